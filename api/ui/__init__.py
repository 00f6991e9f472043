"""The ops dashboard under ``/ui``: mount with ``app.include_router(ui.router)``."""

from __future__ import annotations

from fastapi import APIRouter

from api.ui import approvals, audit_page, auth, bulk, emails_page, new_client, ops, pages, policy

router = APIRouter()
for _module in (auth, new_client, pages, bulk, approvals, ops, emails_page, audit_page, policy):
    router.include_router(_module.router)
