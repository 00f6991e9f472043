"""Reaching an external Temporal cluster or Temporal Cloud: settings parsing and TLS config."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography import x509
from pydantic import BaseModel, SecretStr
from temporalio.client import TLSConfig

from core.runtime.codec import CodecNotConfigured
from core.runtime.settings import Settings, TemporalSettings
from core.runtime.temporal import connect, data_converter, tls_config
from tests.fakes.smtp import make_certificate


def _self_signed(tmp_path: Path) -> tuple[Path, Path, bytes, bytes]:
    cert, key = make_certificate(tmp_path)
    return cert, key, cert.read_bytes(), key.read_bytes()


def test_temporal_mtls_settings_build_the_tls_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cert, key, cert_pem, key_pem = _self_signed(tmp_path)
    monkeypatch.setenv("REKINDLE_TEMPORAL__ADDRESS", "rekindle.a1b2c.tmprl.cloud:7233")
    monkeypatch.setenv("REKINDLE_TEMPORAL__NAMESPACE", "rekindle.a1b2c")
    monkeypatch.setenv("REKINDLE_TEMPORAL__TLS_CLIENT_CERT_PATH", str(cert))
    monkeypatch.setenv("REKINDLE_TEMPORAL__TLS_CLIENT_KEY_PATH", str(key))
    monkeypatch.setenv("REKINDLE_TEMPORAL__TLS_SERVER_CA_PATH", str(cert))
    monkeypatch.setenv("REKINDLE_TEMPORAL__TLS_SERVER_NAME", "temporal.internal")
    temporal = Settings(_env_file=None).temporal
    assert temporal.address == "rekindle.a1b2c.tmprl.cloud:7233"
    assert temporal.namespace == "rekindle.a1b2c"
    config = tls_config(temporal)
    assert isinstance(config, TLSConfig)
    assert config.client_cert == cert_pem
    assert config.client_private_key == key_pem
    assert config.server_root_ca_cert == cert_pem
    assert config.domain == "temporal.internal"
    x509.load_pem_x509_certificate(config.client_cert)


def test_temporal_api_key_turns_tls_on_and_stays_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REKINDLE_TEMPORAL__API_KEY", "cloud-api-key-123")
    temporal = Settings(_env_file=None).temporal
    assert isinstance(temporal.api_key, SecretStr)
    assert "cloud-api-key-123" not in repr(temporal)
    assert tls_config(temporal) is True
    assert tls_config(TemporalSettings()) is False
    assert tls_config(TemporalSettings(tls=True)) is True


def test_temporal_cert_without_key_is_refused(tmp_path: Path) -> None:
    cert, _, _, _ = _self_signed(tmp_path)
    with pytest.raises(ValueError, match="both"):
        tls_config(TemporalSettings(tls_client_cert_path=cert))
    with pytest.raises(FileNotFoundError):
        tls_config(TemporalSettings(tls_client_cert_path=cert, tls_client_key_path=tmp_path / "missing.key"))


async def test_temporal_connect_refuses_to_run_without_encryption_keys() -> None:
    with pytest.raises(CodecNotConfigured, match="REKINDLE_SECURITY__CODEC_KEYS"):
        await connect(Settings(_env_file=None), lazy=True)


async def test_temporal_connect_uses_the_configured_codec() -> None:
    from tests.helpers import TEST_SECURITY

    settings = Settings(_env_file=None).model_copy(update={"security": TEST_SECURITY})
    client = await connect(settings, lazy=True)
    assert client.data_converter.payload_codec is not None
    assert data_converter().payload_codec is None


def _secret_fields(model: type[BaseModel], prefix: str = "") -> dict[str, object]:
    found: dict[str, object] = {}
    for name, field in model.model_fields.items():
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            found |= _secret_fields(annotation, f"{prefix}{name}.")
        elif any(word in name for word in ("password", "secret", "api_key", "token", "keys")):
            found[prefix + name] = annotation
    return found


def test_settings_every_secret_is_a_secretstr() -> None:
    secrets = _secret_fields(Settings)
    assert {"smtp.password", "llm.api_key", "temporal.api_key", "security.codec_keys"} <= set(secrets)
    for name, annotation in secrets.items():
        assert "SecretStr" in str(annotation), f"{name} is {annotation}, not SecretStr"
