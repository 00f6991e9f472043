"""Liveness and readiness."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response
from sqlalchemy import text
from temporalio.service import RPCError

from api.deps import StateDep
from core.runtime.logging import get_logger
from core.runtime.metrics import CONTENT_TYPE, generate_latest

router = APIRouter(tags=["ops"])
log = get_logger(__name__)
CHECK_TIMEOUT_SECONDS = 3.0
# One failed health RPC is not an outage: a loaded server can drop one. A load balancer that
# saw 503 then would pull a healthy instance out, so the check asks again before it says no.
TEMPORAL_ATTEMPTS = 3
TEMPORAL_RETRY_PAUSE_SECONDS = 0.2


class NotServing(Exception):
    """Temporal's frontend answered the health check with NOT_SERVING."""


@router.get(
    "/healthz",
    summary="The process is up",
    responses={200: {"content": {"application/json": {"example": {"status": "ok"}}}}},
)
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


READY_EXAMPLE = {"status": "ready", "checks": {"database": "ok", "temporal": "ok"}}
NOT_READY_EXAMPLE = {
    "status": "not_ready",
    "checks": {"database": "ok", "temporal": "unavailable: RPCError"},
}


@router.get(
    "/readyz",
    summary="Temporal and the database are reachable",
    responses={
        200: {"content": {"application/json": {"example": READY_EXAMPLE}}},
        503: {"description": "Not ready", "content": {"application/json": {"example": NOT_READY_EXAMPLE}}},
    },
)
async def readyz(state: StateDep) -> JSONResponse:
    checks: dict[str, str] = {}

    async def database() -> None:
        async with state.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))

    async def temporal() -> None:
        for attempt in range(1, TEMPORAL_ATTEMPTS + 1):
            try:
                if not await state.temporal.service_client.check_health():
                    raise NotServing()
                return
            except (RPCError, NotServing):
                if attempt == TEMPORAL_ATTEMPTS:
                    raise
            await asyncio.sleep(TEMPORAL_RETRY_PAUSE_SECONDS)

    for name, check in (("database", database), ("temporal", temporal)):
        try:
            await asyncio.wait_for(check(), CHECK_TIMEOUT_SECONDS)
            checks[name] = "ok"
        except Exception as exc:  # any failure means not ready; the reason is the class name
            checks[name] = f"unavailable: {type(exc).__name__}"
            log.warning("readiness check failed", check=name, error=type(exc).__name__)
    ready = all(v == "ok" for v in checks.values())
    return JSONResponse(
        {"status": "ready" if ready else "not_ready", "checks": checks}, 200 if ready else 503
    )


@router.get(
    "/metrics",
    summary="Prometheus metrics",
    response_class=Response,
    responses={
        200: {
            "content": {"text/plain": {"example": "rekindle_orders_accepted_total 3.0\n"}},
            "description": "Prometheus text exposition format",
        }
    },
)
async def metrics() -> Response:
    """The process's application metrics (core/runtime/metrics.py): requests, orders, and more."""
    return Response(generate_latest(), media_type=CONTENT_TYPE)
