"""Import past win-back emails from a previous email tool (``POST /v1/emails:import``).

A retailer switching to Rekindle brings its earlier re-engagement sends and holdouts,
so the uplift report has episodes from day one. Each email becomes an ``emails`` row
(status ``sent`` or ``holdout``, generator ``import``, no body) with its timeline, and
an emailed one is signalled to the client's workflow (``past_email_sent``) first, so
the frequency cap counts it and the database never shows a send the workflow has not
heard of. Idempotent by ``email_id``; the same id with other content is a conflict.
"""

from __future__ import annotations

import asyncio

from temporalio.service import RPCError

from api.batches import InvalidItem
from api.deps import AppState
from api.email_import_schemas import STATUSES, ImportBatch, ImportedEmail, ImportItemResult, ImportResult
from api.errors import FieldError
from api.store import emails_by_id, known_clients, store_imported
from core.contracts.consent import PastEmailSent
from core.runtime.client_workflow import TemporalUnavailable, send_past_email
from core.runtime.logging import get_logger
from core.store.models import Email

log = get_logger(__name__)
SIGNAL_CONCURRENCY = 32  # as for order batches: hide round trips, never monopolise the server


async def import_batch(state: AppState, batch: ImportBatch, actor: str) -> ImportResult:
    """Store each past email and report per item (see ``api/routes/email_import.py``)."""
    # Every valid item starts as "imported"; the checks below settle what it really is.
    results = [_result(i, item) for i, item in enumerate(batch.emails)]
    todo = {r.index: item for r, item in zip(results, batch.emails, strict=True) if r.status == "imported"}
    todo = await _check_read_model(state, todo, results)
    gate = asyncio.Semaphore(SIGNAL_CONCURRENCY)
    signalled = await asyncio.gather(*(_signal(state, gate, item) for item in todo.values()))
    for (index, _item), ok in zip(list(todo.items()), signalled, strict=True):
        if not ok:
            results[index].status = "unavailable"
            del todo[index]
    stored = await store_imported(state.sessions, list(todo.values()), actor)
    for index, item in todo.items():
        if item.email_id not in stored:  # a concurrent import got there first
            _compare(results[index], item, (await _rows(state, [item.email_id])).get(item.email_id))
    counts = {s: sum(r.status == s for r in results) for s in STATUSES}
    log.info("past emails imported", **counts)
    return ImportResult(**counts, results=results)


def _result(index: int, item: ImportedEmail | InvalidItem) -> ImportItemResult:
    if isinstance(item, InvalidItem):
        return ImportItemResult(index=index, status="invalid", errors=item.fields)
    return ImportItemResult(index=index, email_id=item.email_id, client_id=item.client_id, status="imported")


async def _check_read_model(
    state: AppState, todo: dict[int, ImportedEmail], results: list[ImportItemResult]
) -> dict[int, ImportedEmail]:
    """Drop repeated ids, unknown clients and ids already stored (unchanged or conflict)."""
    async with state.sessions() as session:
        clients = await known_clients(session, {item.client_id for item in todo.values()})
        existing = await emails_by_id(session, [item.email_id for item in todo.values()])
    first_index: dict[str, int] = {}
    left = {}
    for index, item in todo.items():
        result = results[index]
        earlier = first_index.setdefault(item.email_id, index)
        if earlier != index:
            result.status = "invalid"
            result.errors = [FieldError(field="email_id", reason=f"repeats item {earlier} of this batch")]
        elif item.client_id not in clients:
            result.status = "unknown_client"
            reason = "no such client: create it first (PUT /v1/clients/{client_id}) or send its orders"
            result.errors = [FieldError(field="client_id", reason=reason)]
        elif item.email_id in existing:
            _compare(result, item, existing[item.email_id])
        else:
            left[index] = item
    return left


def _compare(result: ImportItemResult, item: ImportedEmail, row: Email | None) -> None:
    if row is not None and item.matches(row):
        result.status = "unchanged"
        return
    result.status = "conflict"
    reason = "already stored with other content (client, arm, times or subject); email ids are unique"
    result.errors = [FieldError(field="email_id", reason=reason)]


async def _signal(state: AppState, gate: asyncio.Semaphore, item: ImportedEmail) -> bool:
    """Tell the workflow of an emailed item; ``False`` if Temporal did not take it."""
    if item.sent_at is None:
        return True  # a holdout was never sent: nothing for the frequency cap
    async with gate:
        try:
            await send_past_email(
                state.temporal, state.start, item.client_id, PastEmailSent(sent_at=item.sent_at)
            )
        except (TemporalUnavailable, RPCError):
            return False
    return True


async def _rows(state: AppState, email_ids: list[str]) -> dict[str, Email]:
    async with state.sessions() as session:
        return await emails_by_id(session, email_ids)
