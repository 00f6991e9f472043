"""Prometheus metrics of the API process."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response

from core.metrics import CONTENT_TYPE, generate_latest

router = APIRouter(tags=["ops"])


@router.get("/metrics", summary="Prometheus metrics", include_in_schema=False)
async def metrics() -> Response:
    return Response(generate_latest(), media_type=CONTENT_TYPE)
