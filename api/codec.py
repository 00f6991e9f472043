"""The codec server: the Temporal Web UI decodes (and encodes) payloads through the API.

Temporal's remote codec protocol: ``POST /codec/decode`` and ``POST /codec/encode``
with ``{"payloads": [{"metadata": {"encoding": "<base64>", ...}, "data": "<base64>"}]}``,
answered in the same shape. The UI sends ``X-Namespace`` and, when configured to
pass its access token, ``Authorization``; browsers preflight both, so these routes
have their own CORS policy (``settings.api.cors_origins``).

Access (``require_codec_access``): a bearer token from ``REKINDLE_SECURITY__CODEC_TOKENS``
(comma-separated), an API key with the ``ops`` scope, or the dashboard's signed-in
session (its ``/codec`` cookie, api/ui/session.py), which the Temporal Web UI sends
when configured with ``TEMPORAL_CODEC_INCLUDE_CREDENTIALS=true`` on the same site as
the API: ops sign in to the dashboard and read decoded payloads in the Web UI, with
no OIDC provider. ``REKINDLE_SECURITY__CODEC_ALLOW_ANONYMOUS`` is for the loopback
dev stack only, whose Web UI sends no credentials.

Decode is lenient where the UI needs it: a payload that is not encrypted is shown
as it is (it is already plaintext in the history). A payload naming an unknown
key or failing authentication is a 400, never passed through.
"""

from __future__ import annotations

import base64
import binascii
import hmac
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.security import HTTPAuthorizationCredentials
from pydantic import BaseModel, Field, WithJsonSchema, field_validator
from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send
from temporalio.api.common.v1 import Payload

from api.auth import authenticate
from api.deps import SettingsDep, StateDep
from api.errors import ApiError, documented
from api.ui import session as cookies
from core.runtime.codec import (
    CodecError,
    CodecNotConfigured,
    EncryptionCodec,
    codec_from_settings,
    is_encrypted,
)
from core.store.apikeys import parse_token

PREFIX = "/codec"
MAX_PAYLOADS = 1000

router = APIRouter(prefix=PREFIX, tags=["ops"])


def _b64(value: str, what: str) -> bytes:
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError(f"{what} is not valid base64") from None


# Standard base64 with its padding, as the protocol's JSON form writes bytes: documented in the
# OpenAPI schema so a client knows the exact format (the validators below say what is wrong).
BASE64_PATTERN = r"^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$"
Base64 = Annotated[str, WithJsonSchema({"type": "string", "pattern": BASE64_PATTERN, "format": "byte"})]


class CodecPayload(BaseModel):
    """One payload in the protocol's JSON form (bytes as base64)."""

    metadata: dict[str, Base64] = Field(default_factory=dict, max_length=64)
    data: Base64 = ""

    @field_validator("metadata")
    @classmethod
    def _metadata_base64(cls, value: dict[str, str]) -> dict[str, str]:
        for key, encoded in value.items():
            _b64(encoded, f"metadata value {key!r}")
        return value

    @field_validator("data")
    @classmethod
    def _data_base64(cls, value: str) -> str:
        _b64(value, "data")
        return value

    def to_proto(self) -> Payload:
        return Payload(
            metadata={k: base64.b64decode(v) for k, v in self.metadata.items()},
            data=base64.b64decode(self.data),
        )

    @classmethod
    def from_proto(cls, payload: Payload) -> CodecPayload:
        return cls(
            metadata={k: base64.b64encode(v).decode() for k, v in payload.metadata.items()},
            data=base64.b64encode(payload.data).decode(),
        )


class CodecPayloads(BaseModel):
    payloads: list[CodecPayload] = Field(default_factory=list, max_length=MAX_PAYLOADS)


def _bearer(request: Request) -> str | None:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


async def require_codec_access(request: Request, settings: SettingsDep, state: StateDep) -> None:
    """Only authorized ops may decode: a signed-in dashboard session, an API key with the
    ``ops`` scope, or a configured codec token (compared in constant time)."""
    security = settings.security
    if security.codec_allow_anonymous:
        return
    if cookies.read_codec(request, security.session_secret.get_secret_value()) is not None:
        return
    token = _bearer(request)
    allowed = security.codec_tokens.get_secret_value().split(",") if security.codec_tokens else []
    if token is not None and any(hmac.compare_digest(token, t.strip()) for t in allowed if t.strip()):
        return
    if token is not None and parse_token(token) is not None:
        key = await authenticate(state, HTTPAuthorizationCredentials(scheme="Bearer", credentials=token))
        if key.allows("ops"):
            return
        raise ApiError(403, "forbidden", "this API key lacks the 'ops' scope")
    raise ApiError(
        401,
        "unauthorized",
        "the codec endpoints need a dashboard sign-in, an ops API key or a codec token",
        headers={"WWW-Authenticate": "Bearer"},
    )


def get_codec(request: Request, settings: SettingsDep, state: StateDep) -> EncryptionCodec | None:
    """The API's codec with the clients' data keys, built once; ``None`` when encryption is off."""
    cached: tuple[EncryptionCodec | None] | None = getattr(request.app.state, "codec", None)
    if cached is None:
        try:
            codec = codec_from_settings(settings.security)
        except CodecNotConfigured as exc:
            raise ApiError(503, "codec_not_configured", str(exc)) from exc
        if codec is not None and state.data_keys is not None:
            codec = codec.with_data_keys(state.data_keys)
        cached = (codec,)
        request.app.state.codec = cached
    return cached[0]


CodecDep = Annotated[EncryptionCodec | None, Depends(get_codec)]
CODEC_EXAMPLE = {
    "payloads": [
        {
            "metadata": {"encoding": "YmluYXJ5L2VuY3J5cHRlZA==", "encryption-key-id": "a2V5LTE="},
            "data": "3q2+7w8AAAAAAAAAAAAAAAAAAAB4c2VjcmV0",
        }
    ]
}
RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"content": {"application/json": {"example": CODEC_EXAMPLE}}},
    400: documented(
        "A payload cannot be decoded (unknown key, tampered)",
        "undecodable_payload",
        "payload 0 cannot be decrypted",
    ),
    401: documented(
        "Missing or wrong bearer token", "unauthorized", "the codec endpoints need an ops API key"
    ),
    422: documented(
        "Malformed payloads",
        "validation_error",
        "the request is not valid",
        fields=[{"field": "body.payloads.0.data", "reason": "not base64"}],
    ),
}


@router.post(
    "/encode", dependencies=[Depends(require_codec_access)], responses=RESPONSES, summary="Encrypt payloads"
)
async def encode(body: CodecPayloads, codec: CodecDep) -> CodecPayloads:
    """Encrypt with the active key (identity when encryption is disabled)."""
    payloads = [p.to_proto() for p in body.payloads]
    if codec is not None:
        payloads = [codec.encrypt(p) for p in payloads]
    return CodecPayloads(payloads=[CodecPayload.from_proto(p) for p in payloads])


@router.post(
    "/decode", dependencies=[Depends(require_codec_access)], responses=RESPONSES, summary="Decrypt payloads"
)
async def decode(body: CodecPayloads, codec: CodecDep) -> CodecPayloads:
    """Decrypt with whichever key each payload names: a master key or a client's data key
    (an erased client's is gone: 400)."""
    out = []
    for index, item in enumerate(body.payloads):
        payload = item.to_proto()
        if codec is not None and is_encrypted(payload):
            try:
                payload = await codec.decrypt_any(payload)
            except CodecError as exc:
                raise ApiError(400, "undecodable_payload", f"payloads[{index}]: {exc}") from exc
        out.append(CodecPayload.from_proto(payload))
    return CodecPayloads(payloads=out)


class CodecCors:
    """CORS for the codec routes only: the Web UI's origin, its headers, credentials."""

    def __init__(self, app: ASGIApp, origins: list[str]) -> None:
        self.app = app
        self.cors = CORSMiddleware(
            app,
            allow_origins=origins,
            allow_methods=["POST", "OPTIONS"],
            allow_headers=["Authorization", "Content-Type", "X-Namespace"],
            allow_credentials=True,
            max_age=600,
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].startswith(PREFIX + "/"):
            await self.cors(scope, receive, send)
        else:
            await self.app(scope, receive, send)
