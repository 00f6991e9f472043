"""Payload encryption: every payload Temporal stores is AES-256-GCM ciphertext.

Temporal keeps every workflow input, signal, activity argument, result and
failure message in its history, and ops read those histories in the Web UI.
Client names, email addresses and draft text travel in them, so every client of
Temporal (API, worker, CLI, replayer, tests) encrypts through this codec
(``core.runtime.temporal.data_converter``).

An encrypted payload carries ``encoding: binary/encrypted`` and the id of the key
in ``encryption-key-id``; its data is ``nonce (12 bytes) || ciphertext+tag`` of the
serialized original payload, with the key id as associated data (so a payload
cannot be relabelled to another key). Several keys are configured at once: new
payloads use the active key, any configured key decrypts, so keys rotate without
breaking old histories (retire a key only once no open history needs it).

Decoding is strict by default: a payload that is not encrypted, names a key we do
not have, or fails authentication raises. The worker alone decodes a *plaintext*
payload (a signal sent by hand with the stock CLI and no ``--codec-endpoint``, an
older tool): refusing it would fail every workflow task of that client until a
reset. It passes through and is counted (``on_plaintext``), never silently.
Encoding always encrypts. The only way to run without encryption is
``REKINDLE_SECURITY__CODEC_DISABLED=true``.

Per-client data keys (crypto-shredding): with a data-key source attached
(``core.store.datakeys.DataKeys``), the payloads of a client's workflow are encrypted
under that client's own random key instead, named ``dk:…`` in the same metadata
field (a ``:`` never appears in a master key id). The SDK tells the codec whose
payload it is encoding through its serialization context (``with_context``: the
workflow id of the workflow, or of the workflow an activity belongs to); payloads
without a client workflow (the refit, schedules, the UI's ``/codec/encode``) use
the master key. Decoding goes by the key id alone, so master-key histories written
before data keys existed still decode and replay. Destroying a client's data key
makes every payload under it undecodable, here and in the codec server.

Errors::

    CodecError
    ├── CodecNotConfigured   no keys and not explicitly disabled
    ├── InvalidKeyConfig     keys or active key id malformed
    ├── UnknownKeyId         a payload names a key that is not configured
    ├── NotEncrypted         a plaintext payload reached a strict decode
    ├── DecryptionFailed     wrong key material or tampered ciphertext
    └── DataKeyDestroyed     a client's data key is gone (erased): the payload is shredded
"""

from __future__ import annotations

import base64
import binascii
import copy
import json
import os
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Protocol, Self

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from temporalio.api.common.v1 import Payload
from temporalio.converter import PayloadCodec, SerializationContext, WithSerializationContext

from core.contracts.messages import client_id_of_workflow
from core.runtime.settings import SecuritySettings

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


class DataKeyDestroyed(UnknownKeyId):
    pass


DATA_KEY_PREFIX = "dk:"


class DataKeySource(Protocol):
    """Where per-client data keys come from (``core.store.datakeys.DataKeys``)."""

    async def for_client(self, client_id: str) -> tuple[str, AESGCM]:
        """The client's key id and cipher, created on first use."""
        ...

    async def by_id(self, key_id: str) -> AESGCM | None:
        """The cipher of a data key, or None once it is destroyed."""
        ...


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


class MasterKeys:
    """The configured master keys: several decrypt, the active one encrypts."""

    def __init__(self, keys: Mapping[str, bytes], active_key_id: str) -> None:
        if active_key_id not in keys:
            raise InvalidKeyConfig(f"active codec key {active_key_id!r} is not among the configured keys")
        self.ciphers = {key_id: AESGCM(key) for key_id, key in keys.items()}
        self.active_key_id = active_key_id

    def seal(self, plain: bytes, aad: bytes) -> tuple[str, bytes]:
        """Encrypt under the active key: its id and ``nonce || ciphertext+tag``."""
        return self.active_key_id, _seal(self.ciphers[self.active_key_id], plain, aad)

    def open(self, key_id: str, sealed: bytes, aad: bytes) -> bytes:
        cipher = self.ciphers.get(key_id)
        if cipher is None:
            raise UnknownKeyId(f"key {key_id!r} is not configured")
        return _open(cipher, key_id, sealed, aad)


def _seal(cipher: AESGCM, plain: bytes, aad: bytes) -> bytes:
    nonce = os.urandom(NONCE_BYTES)
    return nonce + cipher.encrypt(nonce, plain, aad)


def _open(cipher: AESGCM, key_id: str, sealed: bytes, aad: bytes) -> bytes:
    try:
        return cipher.decrypt(sealed[:NONCE_BYTES], sealed[NONCE_BYTES:], aad)
    except (InvalidTag, ValueError):
        raise DecryptionFailed(f"payload does not authenticate with key {key_id!r}") from None


def _sealed_payload(key_id: str, cipher: AESGCM, payload: Payload) -> Payload:
    return Payload(
        metadata={"encoding": ENCODING, KEY_ID_METADATA: key_id.encode()},
        data=_seal(cipher, payload.SerializeToString(), key_id.encode()),
    )


class EncryptionCodec(PayloadCodec, WithSerializationContext):
    """AES-256-GCM payload codec: master keys with rotation, per-client data keys when attached."""

    def __init__(
        self,
        keys: Mapping[str, bytes],
        active_key_id: str,
        data_keys: DataKeySource | None = None,
        client_id: str | None = None,
        *,
        on_plaintext: Callable[[], None] | None = None,
    ) -> None:
        """``on_plaintext``: decode plaintext payloads too, calling this for each (the worker)."""
        self.on_plaintext = on_plaintext
        self.master = MasterKeys(keys, active_key_id)
        self.active_key_id = active_key_id
        self.data_keys = data_keys
        self.client_id = client_id  # whose workflow this copy encodes for (from the context)

    @property
    def key_ids(self) -> list[str]:
        return sorted(self.master.ciphers)

    def _copy(self, data_keys: DataKeySource | None, client_id: str | None) -> Self:
        clone = copy.copy(self)
        clone.data_keys, clone.client_id = data_keys, client_id
        return clone

    def with_data_keys(self, data_keys: DataKeySource) -> Self:
        """This codec with per-client data keys for client workflows."""
        return self._copy(data_keys, self.client_id)

    def with_context(self, context: SerializationContext) -> Self:
        """Bound to the client whose workflow (or whose workflow's activity) the payloads belong to."""
        workflow_id = getattr(context, "workflow_id", None)
        client_id = client_id_of_workflow(workflow_id) if isinstance(workflow_id, str) else None
        return self if client_id == self.client_id else self._copy(self.data_keys, client_id)

    def encrypt(self, payload: Payload) -> Payload:
        """Under the active master key (no client context needed)."""
        key_id = self.master.active_key_id
        return _sealed_payload(key_id, self.master.ciphers[key_id], payload)

    def decrypt(self, payload: Payload) -> Payload:
        """With the master key the payload names (data-key payloads need ``decode``)."""
        key_id = _key_id(payload)
        cipher = self.master.ciphers.get(key_id)
        if cipher is None:
            raise UnknownKeyId(f"payload was encrypted with key {key_id!r}, which is not configured")
        return Payload.FromString(_open(cipher, key_id, payload.data, key_id.encode()))

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        if not payloads or self.data_keys is None or self.client_id is None:
            return [self.encrypt(p) for p in payloads]
        key_id, cipher = await self.data_keys.for_client(self.client_id)
        return [_sealed_payload(key_id, cipher, p) for p in payloads]

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [await self._decode_one(p) for p in payloads]

    async def _decode_one(self, payload: Payload) -> Payload:
        if self.on_plaintext is not None and not is_encrypted(payload):
            self.on_plaintext()
            return payload
        return await self.decrypt_any(payload)

    async def decrypt_any(self, payload: Payload) -> Payload:
        """Decrypt with a master key or a client's data key, whichever the payload names."""
        key_id = _key_id(payload)
        if not key_id.startswith(DATA_KEY_PREFIX):
            return self.decrypt(payload)
        cipher = await self.data_keys.by_id(key_id) if self.data_keys is not None else None
        if cipher is None:
            raise DataKeyDestroyed(f"payload was encrypted with data key {key_id!r}, which is not available")
        return Payload.FromString(_open(cipher, key_id, payload.data, key_id.encode()))


def _key_id(payload: Payload) -> str:
    if not is_encrypted(payload):
        raise NotEncrypted("payload is not encrypted; refusing plaintext (codec is enabled)")
    return payload.metadata.get(KEY_ID_METADATA, b"").decode(errors="replace")


def is_encrypted(payload: Payload) -> bool:
    return payload.metadata.get("encoding") == ENCODING


def codec_from_settings(
    security: SecuritySettings, *, on_plaintext: Callable[[], None] | None = None
) -> EncryptionCodec | None:
    """The configured codec; ``None`` only when encryption is explicitly disabled.

    ``on_plaintext`` makes it accept (and report) plaintext payloads: for the worker only.
    """
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
    return EncryptionCodec(keys, active, on_plaintext=on_plaintext)
