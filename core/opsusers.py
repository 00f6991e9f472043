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

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.db import transaction, utcnow
from core.models import OpsUser

USERNAME_PATTERN = r"^[a-z0-9][a-z0-9._-]{0,63}$"
MIN_PASSWORD_LENGTH = 12
MAX_PASSWORD_LENGTH = 1024
# About 16 MiB and tens of milliseconds per check: slow for guessing, fine for a sign-in.
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1


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


async def create_user(sessions: async_sessionmaker[AsyncSession], username: str, password: str) -> None:
    """Add a user; raises ``OpsUserError`` for a bad or taken username or a weak password."""
    check_username(username)
    check_password(password)
    hashed = await asyncio.to_thread(hash_password, password)
    try:
        async with transaction(sessions) as session:
            session.add(OpsUser(username=username, password_hash=hashed, created_at=utcnow()))
    except IntegrityError:
        raise OpsUserError(f"username: {username!r} already exists") from None


async def user_exists(sessions: async_sessionmaker[AsyncSession], username: str) -> bool:
    async with sessions() as session:
        found = await session.scalar(select(OpsUser.id).where(OpsUser.username == username))
    return found is not None


async def authenticate(sessions: async_sessionmaker[AsyncSession], username: str, password: str) -> bool:
    """True when the user exists and the password matches (same cost either way)."""
    async with sessions() as session:
        stored = await session.scalar(select(OpsUser.password_hash).where(OpsUser.username == username))
    ok = await asyncio.to_thread(verify_password, password, stored or _dummy_hash())
    return ok and stored is not None
