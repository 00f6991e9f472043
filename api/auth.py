"""Bearer API keys with scopes: 401 without a valid key, 403 with the wrong scope."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.requests import HTTPConnection

from api.deps import AppState
from api.errors import ApiError
from core.store.apikeys import Scope, StoredKey, parse_token, secret_matches, verify_token

BEARER_DESCRIPTION = "An API key: `Authorization: Bearer rk_…`"


@dataclass(frozen=True)
class Principal:
    """Who is calling: the key's id and name (never its secret)."""

    key_id: str
    name: str


def _unauthorized(message: str) -> ApiError:
    return ApiError(401, "unauthorized", message, headers={"WWW-Authenticate": "Bearer"})


async def authenticate(state: AppState, credentials: HTTPAuthorizationCredentials | None) -> StoredKey:
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise _unauthorized("an API key is required: Authorization: Bearer rk_…")
    token = credentials.credentials
    parsed = parse_token(token)
    if parsed is None:
        raise _unauthorized("the API key is not valid")
    cached = state.keys.get(parsed[0])
    if cached is not None and secret_matches(cached, parsed[1]):
        return cached
    key = await state.keys.verify(token, lambda: verify_token(state.sessions, token))
    if key is None:
        raise _unauthorized("the API key is not valid")
    return key


class ApiKeyBearer(HTTPBearer):
    """A dependency admitting keys that hold ``scope`` (or ``admin``): one call per request.

    The HTTPBearer security scheme in OpenAPI, without the sub-dependencies (bearer,
    state) FastAPI would otherwise resolve one by one on every request: ingest pays
    for each.
    """

    def __init__(self, scope: Scope) -> None:
        super().__init__(auto_error=False, scheme_name="HTTPBearer", description=BEARER_DESCRIPTION)
        self.scope = scope

    async def __call__(self, request: HTTPConnection) -> Principal:  # type: ignore[override]
        state: AppState = request.app.state.rekindle
        key = await authenticate(state, await super().__call__(request))
        if not key.allows(self.scope):
            raise ApiError(403, "forbidden", f"this API key lacks the {self.scope!r} scope")
        return Principal(key_id=key.key_id, name=key.name)


IngestKey = Annotated[Principal, Depends(ApiKeyBearer("ingest"))]
OpsKey = Annotated[Principal, Depends(ApiKeyBearer("ops"))]
AdminKey = Annotated[Principal, Depends(ApiKeyBearer("admin"))]
