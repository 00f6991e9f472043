"""``POST /v1/emails:import``: thin; the service is ``api/email_import.py``, the models
``api/email_import_schemas.py``."""

from __future__ import annotations

from fastapi import APIRouter, Response

from api import examples
from api.auth import AdminKey
from api.deps import StateDep
from api.email_import import import_batch
from api.email_import_schemas import IMPORT_EXAMPLE, ImportBatch, ImportResult
from api.errors import AUTH_RESPONSES, ERROR_RESPONSES, TEMPORAL_RETRY_AFTER_SECONDS
from core.runtime.client_workflow import TemporalUnavailable

router = APIRouter(prefix="/v1", tags=["emails"])


@router.post(
    "/emails:import",
    responses={**examples.ok(examples.EMAIL_IMPORT), **AUTH_RESPONSES, **ERROR_RESPONSES},
    summary="Import up to 1,000 past win-back emails (sent or held out) from a previous tool",
    openapi_extra={"requestBody": {"content": {"application/json": {"example": IMPORT_EXAMPLE}}}},
)
async def import_emails(
    batch: ImportBatch, state: StateDep, response: Response, key: AdminKey
) -> ImportResult:
    """Store each past email for the uplift report and the client's timeline; report per item.

    The client must already exist (``PUT /v1/clients/{id}`` or an order). An emailed
    item is told to the client's workflow first, so the frequency cap counts it.
    Re-importing an item changes nothing (``unchanged``); the same ``email_id`` with
    other content is a ``conflict``. A bad item does not sink the batch. Items
    Temporal could not take are ``unavailable``: send them again (the whole batch is
    fine). If nothing could be stored because Temporal is unreachable: 503, Retry-After.
    """
    result = await import_batch(state, batch, key.name)
    if result.unavailable:
        if not result.imported and not result.unchanged:
            raise TemporalUnavailable()
        response.headers["Retry-After"] = str(TEMPORAL_RETRY_AFTER_SECONDS)
    return result
