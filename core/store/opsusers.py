"""Ops users of the dashboard: salted scrypt password hashes and the user store.

A stored hash reads ``scrypt$<n>$<r>$<p>$<salt b64>$<hash b64>`` so the cost can be
raised later without invalidating existing passwords.
"""

from __future__ import annotations

import asyncio
import base64
import functools
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, get_args

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.store.db import transaction, utcnow
from core.store.models import OpsUser

USERNAME_PATTERN = r"^[a-z0-9][a-z0-9._-]{0,63}$"
MIN_PASSWORD_LENGTH = 12
MAX_PASSWORD_LENGTH = 1024
# About 16 MiB and tens of milliseconds per check: slow for guessing, fine for a sign-in.
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1


# viewer: reads every page; approver: also decides drafts and acts on clients and emails;
# admin: also the audit log, webhooks and users. Existing users were migrated to admin.
Role = Literal["viewer", "approver", "admin"]
ROLES: tuple[str, ...] = get_args(Role)
_RANK = {role: rank for rank, role in enumerate(ROLES)}


def role_allows(role: str, needed: Role) -> bool:
    """True when ``role`` is ``needed`` or above (an unknown role allows nothing)."""
    return _RANK.get(role, -1) >= _RANK[needed]


@dataclass(frozen=True)
class UserInfo:
    username: str
    role: str
    created_at: datetime
    disabled_at: datetime | None


class OpsUserError(ValueError):
    """A username or password that cannot be used; the message names the reason."""


def check_username(username: str) -> str:
    if not re.fullmatch(USERNAME_PATTERN, username):
        raise OpsUserError(
            "username: 1-64 characters of a-z, 0-9, '.', '_', '-', starting with a letter or digit"
        )
    return username


def check_password(password: str) -> str:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise OpsUserError(f"password: at least {MIN_PASSWORD_LENGTH} characters")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise OpsUserError(f"password: at most {MAX_PASSWORD_LENGTH} characters")
    return password


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(password.encode(), salt=salt, n=n, r=r, p=p, maxmem=64 * 1024 * 1024, dklen=32)


def hash_password(password: str) -> str:
    """A fresh salted hash of ``password``."""
    salt = secrets.token_bytes(16)
    digest = _scrypt(password, salt, SCRYPT_N, SCRYPT_R, SCRYPT_P)
    b64 = base64.b64encode
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${b64(salt).decode()}${b64(digest).decode()}"


def verify_password(password: str, stored: str) -> bool:
    """True when ``password`` matches ``stored``; malformed hashes never match."""
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        expected = base64.b64decode(digest)
        actual = _scrypt(password[:MAX_PASSWORD_LENGTH], base64.b64decode(salt), int(n), int(r), int(p))
    except ValueError:
        return False
    return hmac.compare_digest(actual, expected)


@functools.cache
def _dummy_hash() -> str:
    """Checked against when the username is unknown, so a miss costs as much as a wrong password."""
    return hash_password(secrets.token_urlsafe(16))


def check_role(role: str) -> Role:
    if role not in ROLES:
        raise OpsUserError(f"role: one of {', '.join(ROLES)}")
    return role  # type: ignore[return-value]


async def create_user(
    sessions: async_sessionmaker[AsyncSession], username: str, password: str, role: str = "approver"
) -> None:
    """Add a user; raises ``OpsUserError`` for a bad or taken username, a weak password, a bad role."""
    check_username(username)
    check_password(password)
    check_role(role)
    hashed = await asyncio.to_thread(hash_password, password)
    try:
        async with transaction(sessions) as session:
            session.add(OpsUser(username=username, password_hash=hashed, created_at=utcnow(), role=role))
    except IntegrityError:
        raise OpsUserError(f"username: {username!r} already exists") from None


async def user_exists(sessions: async_sessionmaker[AsyncSession], username: str) -> bool:
    async with sessions() as session:
        found = await session.scalar(select(OpsUser.id).where(OpsUser.username == username))
    return found is not None


async def authenticate(sessions: async_sessionmaker[AsyncSession], username: str, password: str) -> bool:
    """True when the user exists, is not disabled and the password matches (same cost either way)."""
    async with sessions() as session:
        row = (
            await session.execute(
                select(OpsUser.password_hash, OpsUser.disabled_at).where(OpsUser.username == username)
            )
        ).first()
    stored = row.password_hash if row is not None else None
    ok = await asyncio.to_thread(verify_password, password, stored or _dummy_hash())
    return ok and row is not None and row.disabled_at is None


async def active_role(sessions: async_sessionmaker[AsyncSession], username: str) -> str | None:
    """The user's role, or ``None`` if they do not exist or are disabled (checked per request)."""
    async with sessions() as session:
        row = (
            await session.execute(
                select(OpsUser.role, OpsUser.disabled_at).where(OpsUser.username == username)
            )
        ).first()
    return row.role if row is not None and row.disabled_at is None else None


async def list_users(sessions: async_sessionmaker[AsyncSession]) -> list[UserInfo]:
    async with sessions() as session:
        rows = await session.scalars(select(OpsUser).order_by(OpsUser.username))
        return [UserInfo(r.username, r.role, r.created_at, r.disabled_at) for r in rows]


async def update_user(
    sessions: async_sessionmaker[AsyncSession],
    username: str,
    *,
    role: str | None = None,
    disabled: bool | None = None,
) -> bool:
    """Change a user's role or disable/enable them; ``False`` if there is no such user."""
    async with transaction(sessions) as session:
        user = await session.scalar(select(OpsUser).where(OpsUser.username == username))
        if user is None:
            return False
        if role is not None:
            user.role = check_role(role)
        if disabled is not None:
            user.disabled_at = (user.disabled_at or utcnow()) if disabled else None
    return True
