"""An integrator's webhook endpoint: a real HTTP server that verifies Standard Webhooks
signatures, records what arrived, and can be switched to refuse (503) for a while."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from standardwebhooks.webhooks import Webhook, WebhookVerificationError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route


@dataclass
class Receiver:
    """``events``: verified payloads in arrival order (with their ``webhook-id``)."""

    secret: str | None = None
    down: bool = False
    events: list[dict[str, Any]] = field(default_factory=list)
    refused: int = 0
    bad_signatures: int = 0

    def types(self) -> list[str]:
        return [e["type"] for e in self.events]

    def app(self) -> Starlette:
        return Starlette(routes=[Route("/hook", self._hook, methods=["POST"])])

    async def _hook(self, request: Request) -> Response:
        body = (await request.body()).decode()
        if self.down:
            self.refused += 1
            return Response("down", status_code=503)
        if self.secret is None:
            return Response("no secret yet", status_code=503)
        try:
            payload = Webhook(self.secret).verify(body, dict(request.headers))
        except WebhookVerificationError:
            self.bad_signatures += 1
            return Response("bad signature", status_code=401)
        self.events.append({**payload, "webhook_id": request.headers["webhook-id"], "raw": json.loads(body)})
        return Response(status_code=204)
