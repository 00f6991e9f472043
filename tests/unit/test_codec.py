"""The payload codec: AES-GCM, key id in metadata, rotation, loud failures."""

from __future__ import annotations

import base64
import json

import pytest
from pydantic import SecretStr
from temporalio.api.common.v1 import Payload

from core.contracts.consent import ProfileUpdated
from core.runtime.codec import (
    ENCODING,
    KEY_ID_METADATA,
    CodecNotConfigured,
    DecryptionFailed,
    EncryptionCodec,
    InvalidKeyConfig,
    NotEncrypted,
    UnknownKeyId,
    codec_from_settings,
    new_key,
    parse_keys,
)
from core.runtime.settings import SecuritySettings
from core.runtime.temporal import data_converter

KEY_A = new_key()
KEY_B = new_key()


def _codec(keys: str, active: str | None = None) -> EncryptionCodec:
    codec = codec_from_settings(SecuritySettings(codec_keys=SecretStr(keys), codec_active_key_id=active))
    assert codec is not None
    return codec


def _plain(text: str = "ada@example.com") -> Payload:
    return Payload(metadata={"encoding": b"json/plain"}, data=json.dumps(text).encode())


async def test_codec_round_trip_hides_plaintext_and_names_key() -> None:
    codec = _codec(f"a:{KEY_A}")
    [sealed] = await codec.encode([_plain()])
    assert sealed.metadata["encoding"] == ENCODING
    assert sealed.metadata[KEY_ID_METADATA] == b"a"
    assert b"ada@example.com" not in sealed.SerializeToString()
    assert await codec.decode([sealed]) == [_plain()]


async def test_codec_same_payload_encrypts_differently() -> None:
    codec = _codec(f"a:{KEY_A}")
    first, second = await codec.encode([_plain(), _plain()])
    assert first.data != second.data


async def test_codec_rotation_decodes_retired_key_while_configured() -> None:
    old = _codec(f"a:{KEY_A}")
    [sealed_by_a] = await old.encode([_plain()])
    rotated = _codec(f"a:{KEY_A},b:{KEY_B}", active="b")
    [sealed_by_b] = await rotated.encode([_plain()])
    assert sealed_by_b.metadata[KEY_ID_METADATA] == b"b"
    assert await rotated.decode([sealed_by_a, sealed_by_b]) == [_plain(), _plain()]
    retired = _codec(f"b:{KEY_B}")
    with pytest.raises(UnknownKeyId, match="'a'"):
        await retired.decode([sealed_by_a])


async def test_codec_refuses_plaintext_tampering_and_relabelling() -> None:
    codec = _codec(f"a:{KEY_A},b:{KEY_B}", active="a")
    with pytest.raises(NotEncrypted):
        await codec.decode([_plain()])
    [sealed] = await codec.encode([_plain()])
    tampered = Payload()
    tampered.CopyFrom(sealed)
    tampered.data = sealed.data[:-1] + bytes([sealed.data[-1] ^ 1])
    with pytest.raises(DecryptionFailed):
        await codec.decode([tampered])
    relabelled = Payload()
    relabelled.CopyFrom(sealed)
    relabelled.metadata[KEY_ID_METADATA] = b"b"
    with pytest.raises(DecryptionFailed):
        await codec.decode([relabelled])


async def test_codec_data_converter_round_trips_models() -> None:
    converter = data_converter(_codec(f"a:{KEY_A}"))
    profile = ProfileUpdated(email="ada@example.com", first_name="Ada")
    payloads = await converter.encode([profile])
    assert b"ada@example.com" not in payloads[0].SerializeToString()
    assert await converter.decode(payloads, [ProfileUpdated]) == [profile]


def test_codec_keys_parse_list_and_json() -> None:
    listed = parse_keys(f" a:{KEY_A} , b:{KEY_B} ")
    as_json = parse_keys(json.dumps({"a": KEY_A, "b": KEY_B}))
    assert listed == as_json == {"a": base64.b64decode(KEY_A), "b": base64.b64decode(KEY_B)}


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("", "no key"),
        ("a", "expected id:base64key"),
        ("a:not-base64!", "not valid base64"),
        (f"a:{base64.b64encode(b'short').decode()}", "32 bytes"),
        (f"bad id:{KEY_A}", "must match"),
        ("{not json", "invalid JSON"),
        ('{"a": 1}', "expected"),
    ],
)
def test_codec_bad_keys_fail_without_echoing_material(raw: str, reason: str) -> None:
    with pytest.raises(InvalidKeyConfig, match=reason) as info:
        parse_keys(raw)
    assert KEY_A not in str(info.value)


def test_codec_settings_require_keys_or_explicit_opt_out() -> None:
    with pytest.raises(CodecNotConfigured, match="REKINDLE_SECURITY__CODEC_KEYS"):
        codec_from_settings(SecuritySettings())
    assert codec_from_settings(SecuritySettings(codec_disabled=True)) is None
    with pytest.raises(InvalidKeyConfig, match="ACTIVE_KEY_ID"):
        _codec(f"a:{KEY_A},b:{KEY_B}")
    with pytest.raises(InvalidKeyConfig, match="'c'"):
        _codec(f"a:{KEY_A}", active="c")
    assert _codec(f"only:{KEY_A}").active_key_id == "only"


def test_codec_keys_are_secret_in_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    from core.runtime.settings import Settings

    monkeypatch.setenv("REKINDLE_SECURITY__CODEC_KEYS", f"a:{KEY_A}")
    monkeypatch.setenv("REKINDLE_SECURITY__CODEC_TOKENS", "ops-token-123")
    settings = Settings(_env_file=None)
    assert isinstance(settings.security.codec_keys, SecretStr)
    assert KEY_A not in repr(settings)
    assert "ops-token-123" not in repr(settings)


async def test_codec_strict_by_default_lenient_worker_counts_plaintext() -> None:
    with pytest.raises(NotEncrypted):
        await _codec(f"a:{KEY_A}").decode([_plain()])
    seen: list[int] = []
    lenient = codec_from_settings(
        SecuritySettings(codec_keys=SecretStr(f"a:{KEY_A}")), on_plaintext=lambda: seen.append(1)
    )
    assert lenient is not None
    [sealed] = await lenient.encode([_plain()])
    assert sealed.metadata["encoding"] == ENCODING  # what it writes is still encrypted
    assert await lenient.decode([_plain(), sealed]) == [_plain(), _plain()]
    assert seen == [1]
