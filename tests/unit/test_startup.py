"""The production entry points refuse public default secrets, short ones and a missing postal
address, naming the variables and never the values; the dev stack makes its own."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from pydantic import SecretStr

from cli.devstack import DEV_POSTAL_ADDRESS, with_dev_secrets
from core.runtime.settings import Settings
from core.runtime.startup import UnsafeSettings, production_problems, require_production_settings
from tests.helpers import PRODUCTION_TEST_ENV, TEST_SECURITY

ROOT = Path(__file__).resolve().parents[2]


def _settings(**security: str) -> Settings:
    base = Settings(_env_file=None)
    smtp = base.smtp.model_copy(update={"postal_address": "1 Test Street"})
    values = {k: SecretStr(v) for k, v in security.items()}
    return base.model_copy(update={"security": TEST_SECURITY.model_copy(update=values), "smtp": smtp})


def test_startup_accepts_long_random_secrets_and_an_address() -> None:
    assert production_problems(_settings()) == []


def test_startup_refuses_defaults_short_secrets_and_no_address() -> None:
    base = Settings(_env_file=None)
    assert production_problems(base) == [
        "REKINDLE_SECURITY__SESSION_SECRET is the development default; set a random value",
        "REKINDLE_SECURITY__UNSUBSCRIBE_SECRET is the development default; set a random value",
        "REKINDLE_SECURITY__SUPPRESSION_HASH_SECRET is the development default; set a random value",
        "REKINDLE_SMTP__POSTAL_ADDRESS is required: every email carries the sender's postal address",
    ]
    short = _settings(session_secret="s3cr3t-but-short")
    with pytest.raises(UnsafeSettings) as raised:
        require_production_settings(short)
    assert "REKINDLE_SECURITY__SESSION_SECRET is shorter than 32 characters" in str(raised.value)
    assert "s3cr3t-but-short" not in str(raised.value)


@pytest.mark.parametrize("command", ["api", "worker"])
def test_startup_rekindle_commands_exit_with_the_reason(command: str) -> None:
    env = {"PATH": "/usr/bin:/bin", **PRODUCTION_TEST_ENV, "REKINDLE_SECURITY__SESSION_SECRET": "change-me"}
    rekindle = str(Path(sys.executable).parent / "rekindle")
    done = subprocess.run([rekindle, command], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert done.stderr.strip() == (
        "error: refusing to start: REKINDLE_SECURITY__SESSION_SECRET is the development default; "
        "set a random value (see .env.example)"
    )


def test_startup_dev_stack_generates_stable_secrets(tmp_path: Path) -> None:
    first = with_dev_secrets(Settings(_env_file=None), tmp_path)
    again = with_dev_secrets(Settings(_env_file=None), tmp_path)
    assert production_problems(first) == []
    assert first.security.session_secret == again.security.session_secret
    assert first.smtp.postal_address == DEV_POSTAL_ADDRESS
    configured = _settings(unsubscribe_secret="x" * 40)
    assert with_dev_secrets(configured, tmp_path).security.unsubscribe_secret.get_secret_value() == "x" * 40


def test_startup_dev_stack_keeps_an_older_folders_suppression_secret(tmp_path: Path) -> None:
    """A data folder made before the suppression secret was generated hashed its suppression
    list with the default: it keeps that (the list still matches), and the rest is generated."""
    (tmp_path / "secrets.json").write_text(json.dumps({"session": "s" * 43, "unsubscribe": "u" * 43}))
    default = Settings(_env_file=None).security.suppression_hash_secret
    settings = with_dev_secrets(Settings(_env_file=None), tmp_path)
    assert settings.security.suppression_hash_secret == default
    assert settings.security.session_secret.get_secret_value() == "s" * 43
    (tmp_path / "new").mkdir()
    fresh = with_dev_secrets(Settings(_env_file=None), tmp_path / "new")
    assert fresh.security.suppression_hash_secret != default


def test_startup_refuses_a_dkim_key_that_cannot_sign() -> None:
    """A bad key is refused at start (named, never shown), not found by every send."""
    pem = (
        rsa.generate_private_key(public_exponent=65537, key_size=2048)
        .private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                       serialization.NoEncryption())
        .decode()
    )  # fmt: skip
    good = _settings()
    good.smtp.dkim_private_key = SecretStr(pem)
    assert production_problems(good) == []
    bad = _settings()
    bad.smtp.dkim_private_key = SecretStr(pem[:200] + "truncated" + "\n-----END RSA PRIVATE KEY-----\n")
    problems = production_problems(bad)
    assert problems == ["REKINDLE_SMTP__DKIM_PRIVATE_KEY is not a usable PEM private key"]
