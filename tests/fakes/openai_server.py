"""A local OpenAI-compatible endpoint (``POST /v1/chat/completions``) that misbehaves on cue.

Serve ``FakeOpenAI().app`` with ``tests.helpers.serve_app``. Each request takes the next mode
from ``script`` (then ``default``): ``good`` (the configured draft), ``slow`` (good, after
``slow_seconds``), ``rate_limited`` (429 with ``Retry-After``), ``server_error`` (500),
``bad_request`` (400), ``unauthorized`` (401), ``malformed`` (content that is not the JSON
object), ``bad_body`` (a 200 whose body is not JSON), ``violating`` (a draft promising a
discount and a foreign link) or ``gullible`` (obeys whatever the prompt says: if any message
mentions "90% off", so does the draft). Every request body is kept in ``requests``.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

GOOD_DRAFT = {
    "subject": "We saved a few knitwear ideas for you, Anna",
    "preheader": "New pieces picked with you in mind.",
    "body_text": (
        "Hi Anna,\n\nIt has been a little while since your last knitwear order, and we have added "
        "new pieces we think you would love.\n\nReply any time if you would like a hand.\n\n"
        "Warm wishes,\nThe Rekindle team"
    ),
}
VIOLATING_DRAFT = {
    "subject": "Anna, 90% off everything this week!",
    "preheader": "Use code SAVE90 at checkout.",
    "body_text": "Hi Anna,\n\nTake 90% off with code SAVE90 at https://deals.example.com today only.",
}


@dataclass
class FakeOpenAI:
    draft: dict[str, str] = field(default_factory=lambda: dict(GOOD_DRAFT))
    script: list[str] = field(default_factory=list)
    default: str = "good"
    slow_seconds: float = 2.0
    retry_after: str = "1"
    requests: list[dict[str, Any]] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)
    times: list[float] = field(default_factory=list)

    @property
    def app(self) -> Starlette:
        return Starlette(routes=[Route("/v1/chat/completions", self._complete, methods=["POST"])])

    def _completion(self, body: dict[str, Any], content: str) -> JSONResponse:
        return JSONResponse(
            {
                "id": f"chatcmpl-{len(self.requests)}",
                "object": "chat.completion",
                "created": 1_770_000_000,
                "model": body.get("model", "fake"),
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": content},
                        "finish_reason": "stop",
                    }
                ],
                "usage": {"prompt_tokens": 120, "completion_tokens": 80, "total_tokens": 200},
            }
        )

    async def _complete(self, request: Request) -> Response:
        body = await request.json()
        self.requests.append(body)
        self.headers.append(dict(request.headers))
        self.times.append(time.monotonic())
        mode = self.script.pop(0) if self.script else self.default
        if mode == "slow":
            await asyncio.sleep(self.slow_seconds)
            mode = "good"
        if mode == "rate_limited":
            return JSONResponse(
                {"error": {"message": "slow down", "type": "rate_limit"}},
                status_code=429,
                headers={"retry-after": self.retry_after},
            )
        errors = {"server_error": 500, "bad_request": 400, "unauthorized": 401}
        if mode in errors:
            return JSONResponse({"error": {"message": mode, "type": mode}}, status_code=errors[mode])
        if mode == "bad_body":
            return Response("{not json", media_type="application/json")
        if mode == "malformed":
            return self._completion(body, "Sure! Here is your email: Hi Anna, ...")
        if mode == "violating" or (mode == "gullible" and "90% off" in json.dumps(body["messages"])):
            return self._completion(body, json.dumps(VIOLATING_DRAFT))
        return self._completion(body, json.dumps(self.draft))
