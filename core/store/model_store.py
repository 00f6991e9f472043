"""The versioned store of engagement-model parameters (table ``model_parameters``).

A refit stores a new version; rescoring reads the latest one for its time unit,
or the built-in defaults while none has been stored. Readers: activities and the
API (the store is database plumbing, like ``core.store.db``; the model code itself
stays pure in ``core.domain.scoring``).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.domain.scoring.params import ModelParameters, Unit, default_parameters
from core.store.models import ModelParameterSet

_RECENT_FOR_DEDUPE = 50  # a retried store finds its first attempt among the latest rows


def _document(params: ModelParameters, refit_id: str) -> dict[str, Any]:
    return {"refit_id": refit_id, "model": params.model_dump(mode="json")}


def _parameters(row: ModelParameterSet) -> ModelParameters:
    stored = ModelParameters.model_validate(row.params["model"])
    return stored.model_copy(update={"version": row.version, "is_default": False})


async def latest_parameters(session: AsyncSession, unit: Unit = "days") -> ModelParameters:
    """The newest stored set in ``unit``; the defaults (version 0) if there is none."""
    row = await session.scalar(
        select(ModelParameterSet)
        .where(ModelParameterSet.unit == unit)
        .order_by(ModelParameterSet.version.desc())
        .limit(1)
    )
    return default_parameters(unit) if row is None else _parameters(row)


async def parameters_version(session: AsyncSession, version: int) -> ModelParameters | None:
    """One stored version, if it exists."""
    row = await session.scalar(select(ModelParameterSet).where(ModelParameterSet.version == version))
    return None if row is None else _parameters(row)


async def save_parameters(
    session: AsyncSession, params: ModelParameters, refit_id: str
) -> tuple[ModelParameters, bool]:
    """Store ``params`` as the next version; (stored set, whether a row was created).

    Idempotent by ``refit_id``: a retried store returns the version its first
    attempt created. Run inside a transaction; a concurrent store racing for
    the same version number fails on the unique constraint and can be retried.
    """
    if params.is_default:
        raise ValueError("the built-in defaults are not stored")
    recent = await session.scalars(
        select(ModelParameterSet).order_by(ModelParameterSet.version.desc()).limit(_RECENT_FOR_DEDUPE)
    )
    for row in recent:
        if row.params.get("refit_id") == refit_id:
            return _parameters(row), False
    newest = await session.scalar(select(func.max(ModelParameterSet.version)))
    version = (newest or 0) + 1
    stored = params.model_copy(update={"version": version})
    session.add(
        ModelParameterSet(
            version=version,
            fitted_at=stored.fitted_at,
            n_clients=stored.n_clients,
            unit=stored.unit,
            params=_document(stored, refit_id),
            bgnbd_log_likelihood=stored.bgnbd_log_likelihood,
            gamma_gamma_log_likelihood=stored.gamma_gamma_log_likelihood,
        )
    )
    await session.flush()
    return stored, True
