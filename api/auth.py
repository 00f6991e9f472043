"""Bearer API keys with scopes: 401 without a valid key, 403 with the wrong scope."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from api.deps import StateDep
from api.errors import ApiError
from core.apikeys import Scope, StoredKey, parse_token, secret_matches, verify_token

bearer = HTTPBearer(auto_error=False, description="An API key: `Authorization: Bearer rk_…`")


@dataclass(frozen=True)
class Principal:
    """Who is calling: the key's id and name (never its secret)."""

    key_id: str
    name: str


def _unauthorized(message: str) -> ApiError:
    return ApiError(401, "unauthorized", message, headers={"WWW-Authenticate": "Bearer"})


async def authenticate(state: StateDep, credentials: HTTPAuthorizationCredentials | None) -> StoredKey:
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise _unauthorized("an API key is required: Authorization: Bearer rk_…")
    token = credentials.credentials
    parsed = parse_token(token)
    if parsed is None:
        raise _unauthorized("the API key is not valid")
    cached = state.keys.get(parsed[0])
    if cached is not None and secret_matches(cached, parsed[1]):
        return cached
    key = await verify_token(state.sessions, token)
    if key is None:
        raise _unauthorized("the API key is not valid")
    state.keys.put(key)
    return key


def require(scope: Scope) -> Callable[..., Awaitable[Principal]]:
    """A dependency admitting keys that hold ``scope`` (or ``admin``)."""

    async def dependency(
        state: StateDep,
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
    ) -> Principal:
        key = await authenticate(state, credentials)
        if not key.allows(scope):
            raise ApiError(403, "forbidden", f"this API key lacks the {scope!r} scope")
        return Principal(key_id=key.key_id, name=key.name)

    return dependency


IngestKey = Annotated[Principal, Depends(require("ingest"))]
OpsKey = Annotated[Principal, Depends(require("ops"))]
AdminKey = Annotated[Principal, Depends(require("admin"))]
