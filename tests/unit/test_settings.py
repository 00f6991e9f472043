"""Settings: nested sections from the environment, secrets hidden, every variable documented."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import BaseModel, SecretStr, ValidationError

from core.runtime.settings import Settings

ROOT = Path(__file__).resolve().parents[2]


def _env_names(model: type[BaseModel], prefix: str) -> set[str]:
    names: set[str] = set()
    for name, field in model.model_fields.items():
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            names |= _env_names(annotation, f"{prefix}{name.upper()}__")
        else:
            names.add(f"{prefix}{name.upper()}")
    return names


def test_settings_every_variable_is_documented() -> None:
    documented = {
        line.split("=", 1)[0].lstrip("# ").strip()
        for line in (ROOT / ".env.example").read_text().splitlines()
        if "=" in line and line.lstrip("# ").startswith("REKINDLE_")
    }
    missing = _env_names(Settings, "REKINDLE_") - documented
    assert missing == set()


def test_settings_read_nested_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REKINDLE_DATABASE__URL", "postgresql+psycopg://u@db/x")
    monkeypatch.setenv("REKINDLE_SMTP__PASSWORD", "hunter2")
    monkeypatch.setenv("REKINDLE_POLICY__FREQUENCY_CAP_DAYS", "14")
    settings = Settings(_env_file=None)
    assert settings.database.url == "postgresql+psycopg://u@db/x"
    assert isinstance(settings.smtp.password, SecretStr)
    assert "hunter2" not in repr(settings)
    assert settings.policy.frequency_cap_days == 14


def test_settings_reject_bad_values(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REKINDLE_API__PORT", "70000")
    with pytest.raises(ValidationError, match=r"api\.port"):
        Settings(_env_file=None)


def test_settings_refuse_a_sendgrid_key_that_is_not_one(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REKINDLE_FEEDBACK__SENDGRID_PUBLIC_KEY", "bm90IGEga2V5")  # "not a key"
    with pytest.raises(ValidationError, match=r"feedback\.sendgrid_public_key"):
        Settings(_env_file=None)
