"""What ``rekindle up`` leaves in its data folder for the other commands to find.

The dev stack generates a payload-encryption key once into ``data/codec-keys`` and
listens on ``REKINDLE_DEVSTACK__TEMPORAL_PORT``; a command run beside it (``rekindle
replay``) reads the same key and address, so it works against ``make run`` with no
settings of its own. Anything configured explicitly wins.
"""

from __future__ import annotations

from pydantic import SecretStr

from core.runtime.settings import Settings

DEV_KEY_FILE = "codec-keys"


def dev_settings(settings: Settings) -> Settings:
    """``settings`` with the dev stack's codec key and Temporal address where none is set."""
    update: dict[str, object] = {}
    security = settings.security
    path = settings.devstack.data_dir / DEV_KEY_FILE
    if security.codec_keys is None and not security.codec_disabled and path.is_file():
        keys = SecretStr(path.read_text().strip())
        update["security"] = security.model_copy(update={"codec_keys": keys, "codec_active_key_id": None})
    if "address" not in settings.temporal.model_fields_set:
        address = f"127.0.0.1:{settings.devstack.temporal_port}"
        update["temporal"] = settings.temporal.model_copy(update={"address": address})
    return settings.model_copy(update=update) if update else settings
