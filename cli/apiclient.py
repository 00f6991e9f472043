"""Commands that talk to a running API as a backend service would: where the key comes from."""

from __future__ import annotations

import os
from pathlib import Path

from core.runtime.settings import Settings

KEY_ENV = "REKINDLE_API_KEY"


class NoApiKey(Exception):
    """No key was given and the dev stack's key file is missing."""


def resolve_key(settings: Settings, given: str | None) -> str:
    """``--api-key``, else $REKINDLE_API_KEY, else the key ``rekindle up`` keeps in the data dir."""
    if given:
        return given
    if os.environ.get(KEY_ENV):
        return os.environ[KEY_ENV]
    path = Path(settings.devstack.data_dir) / "admin-api-key"
    try:
        return path.read_text().strip()
    except OSError:
        raise NoApiKey(
            f"no API key: start the stack with `make run` (it writes {path}) or pass --api-key"
        ) from None


def base_url(settings: Settings, given: str | None) -> str:
    return (given or settings.api.public_base_url).rstrip("/")
