"""Payload encryption: every payload Temporal stores is AES-256-GCM ciphertext.

Temporal keeps every workflow input, signal, activity argument, result and
failure message in its history, and ops read those histories in the Web UI.
Client names, email addresses and draft text travel in them, so every client of
Temporal (API, worker, CLI, replayer, tests) encrypts through this codec
(``core.temporal.data_converter``).

An encrypted payload carries ``encoding: binary/encrypted`` and the id of the key
in ``encryption-key-id``; its data is ``nonce (12 bytes) || ciphertext+tag`` of the
serialized original payload, with the key id as associated data (so a payload
cannot be relabelled to another key). Several keys are configured at once: new
payloads use the active key, any configured key decrypts, so keys rotate without
breaking old histories (retire a key only once no open history needs it).

Decoding is strict: a payload that is not encrypted, names a key we do not have,
or fails authentication raises; nothing passes through silently. The only way to
run without encryption is ``REKINDLE_SECURITY__CODEC_DISABLED=true``.

Errors::

    CodecError
    ├── CodecNotConfigured   no keys and not explicitly disabled
    ├── InvalidKeyConfig     keys or active key id malformed
    ├── UnknownKeyId         a payload names a key that is not configured
    ├── NotEncrypted         a plaintext payload reached a strict decode
    └── DecryptionFailed     wrong key material or tampered ciphertext
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import re
from collections.abc import Mapping, Sequence

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from temporalio.api.common.v1 import Payload
from temporalio.converter import PayloadCodec

from core.settings import SecuritySettings

ENCODING = b"binary/encrypted"
KEY_ID_METADATA = "encryption-key-id"
NONCE_BYTES = 12
KEY_BYTES = 32
KEY_ID_PATTERN = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


class CodecError(Exception):
    """Base of every payload-encryption error."""


class CodecNotConfigured(CodecError):
    pass


class InvalidKeyConfig(CodecError):
    pass


class UnknownKeyId(CodecError):
    pass


class NotEncrypted(CodecError):
    pass


class DecryptionFailed(CodecError):
    pass


def new_key() -> str:
    """A fresh random key, base64 encoded as the settings expect it."""
    return base64.b64encode(os.urandom(KEY_BYTES)).decode()


def _decode_key(key_id: str, encoded: str) -> bytes:
    if not KEY_ID_PATTERN.match(key_id):
        raise InvalidKeyConfig(f"codec key id {key_id!r} must match {KEY_ID_PATTERN.pattern}")
    try:
        key = base64.b64decode(encoded.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise InvalidKeyConfig(f"codec key {key_id!r} is not valid base64") from None
    if len(key) != KEY_BYTES:
        raise InvalidKeyConfig(f"codec key {key_id!r} must be {KEY_BYTES} bytes (AES-256), not {len(key)}")
    return key


def parse_keys(raw: str) -> dict[str, bytes]:
    """``id:base64,id2:base64`` or ``{"id": "base64"}`` into key bytes by id.

    Error messages name key ids, never key material.
    """
    text = raw.strip()
    if text.startswith("{"):
        try:
            pairs = json.loads(text)
        except json.JSONDecodeError:
            raise InvalidKeyConfig("codec keys: invalid JSON object") from None
        if not isinstance(pairs, dict) or not all(isinstance(v, str) for v in pairs.values()):
            raise InvalidKeyConfig('codec keys: expected {"key id": "base64 key", ...}')
        items = list(pairs.items())
    else:
        items = []
        for part in filter(None, (p.strip() for p in text.split(","))):
            key_id, sep, encoded = part.partition(":")
            if not sep:
                raise InvalidKeyConfig("codec keys: expected id:base64key[,id:base64key...]")
            items.append((key_id.strip(), encoded))
    if not items:
        raise InvalidKeyConfig("codec keys: no key configured")
    return {key_id: _decode_key(key_id, encoded) for key_id, encoded in items}


class EncryptionCodec(PayloadCodec):
    """AES-256-GCM payload codec with several keys and one active key."""

    def __init__(self, keys: Mapping[str, bytes], active_key_id: str) -> None:
        if active_key_id not in keys:
            raise InvalidKeyConfig(f"active codec key {active_key_id!r} is not among the configured keys")
        self._ciphers = {key_id: AESGCM(key) for key_id, key in keys.items()}
        self.active_key_id = active_key_id

    @property
    def key_ids(self) -> list[str]:
        return sorted(self._ciphers)

    def encrypt(self, payload: Payload) -> Payload:
        key_id = self.active_key_id
        nonce = os.urandom(NONCE_BYTES)
        sealed = self._ciphers[key_id].encrypt(nonce, payload.SerializeToString(), key_id.encode())
        return Payload(
            metadata={"encoding": ENCODING, KEY_ID_METADATA: key_id.encode()},
            data=nonce + sealed,
        )

    def decrypt(self, payload: Payload) -> Payload:
        if not is_encrypted(payload):
            raise NotEncrypted("payload is not encrypted; refusing plaintext (codec is enabled)")
        key_id = payload.metadata.get(KEY_ID_METADATA, b"").decode(errors="replace")
        cipher = self._ciphers.get(key_id)
        if cipher is None:
            raise UnknownKeyId(f"payload was encrypted with key {key_id!r}, which is not configured")
        nonce, sealed = payload.data[:NONCE_BYTES], payload.data[NONCE_BYTES:]
        try:
            plain = cipher.decrypt(nonce, sealed, key_id.encode())
        except (InvalidTag, ValueError):
            raise DecryptionFailed(f"payload does not authenticate with key {key_id!r}") from None
        return Payload.FromString(plain)

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [self.encrypt(p) for p in payloads]

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [self.decrypt(p) for p in payloads]


def is_encrypted(payload: Payload) -> bool:
    return payload.metadata.get("encoding") == ENCODING


def codec_from_settings(security: SecuritySettings) -> EncryptionCodec | None:
    """The configured codec; ``None`` only when encryption is explicitly disabled."""
    if security.codec_disabled:
        return None
    if security.codec_keys is None:
        raise CodecNotConfigured(
            "payload encryption keys are not configured: set REKINDLE_SECURITY__CODEC_KEYS "
            "(see .env.example) or REKINDLE_SECURITY__CODEC_DISABLED=true"
        )
    keys = parse_keys(security.codec_keys.get_secret_value())
    active = security.codec_active_key_id
    if active is None:
        if len(keys) != 1:
            raise InvalidKeyConfig("several codec keys: set REKINDLE_SECURITY__CODEC_ACTIVE_KEY_ID")
        active = next(iter(keys))
    return EncryptionCodec(keys, active)
