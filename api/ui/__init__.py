"""The ops dashboard under ``/ui``: mount with ``app.include_router(ui.router)``."""

from __future__ import annotations

from fastapi import APIRouter

from api.ui import approvals, auth, pages

router = APIRouter()
for _module in (auth, pages, approvals):
    router.include_router(_module.router)
