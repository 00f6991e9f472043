"""Rekindle settings: one object, nested sections, read from the environment.

Every variable is prefixed ``REKINDLE_`` and nested sections use ``__``, e.g.
``REKINDLE_DATABASE__URL`` or ``REKINDLE_SMTP__PASSWORD``. ``.env.example``
documents them all. Build the object once (``Settings()``) and pass it down.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class DatabaseSettings(BaseModel):
    """Where the read model lives: SQLite file by default, PostgreSQL by URL."""

    url: str = "sqlite+aiosqlite:///data/rekindle.db"
    echo: bool = False
    pool_size: int = Field(default=10, ge=1, le=200)


class TemporalSettings(BaseModel):
    """How to reach Temporal: the dev server by default, a cluster or Cloud by settings."""

    address: str = "127.0.0.1:7233"
    namespace: str = "default"
    task_queue: str = "rekindle"
    send_task_queue: str = "rekindle-send"
    llm_task_queue: str = "rekindle-llm"
    api_key: SecretStr | None = None
    tls: bool = False
    tls_client_cert_path: Path | None = None
    tls_client_key_path: Path | None = None
    tls_server_ca_path: Path | None = None
    tls_server_name: str | None = None
    web_ui_url: str = "http://127.0.0.1:8233"


class SmtpSecurity(StrEnum):
    PLAIN = "plain"
    STARTTLS = "starttls"
    TLS = "tls"


class SmtpSettings(BaseModel):
    """Outgoing mail: the local sink in development, a provider in production."""

    host: str = "127.0.0.1"
    port: int = Field(default=1025, ge=1, le=65535)
    security: SmtpSecurity = SmtpSecurity.PLAIN
    username: str | None = None
    password: SecretStr | None = None
    timeout_seconds: float = Field(default=30.0, gt=0)
    from_address: str = "Rekindle <hello@rekindle.localhost>"
    unsubscribe_mailto: str = "unsubscribe@rekindle.localhost"
    rate_limit_per_second: float = Field(default=10.0, gt=0)
    # a private CA to trust for (START)TLS, e.g. a self-hosted relay; None = system store
    tls_ca_path: Path | None = None
    # EHLO name; None = the From address's domain (no slow getfqdn() lookup)
    helo_hostname: str | None = None


class LlmSettings(BaseModel):
    """Any OpenAI-compatible endpoint; with no key, the template drafter is used."""

    base_url: str | None = None
    model: str = "gpt-4o-mini"
    api_key: SecretStr | None = None
    timeout_seconds: float = Field(default=30.0, gt=0)
    max_attempts: int = Field(default=5, ge=1, le=50)


class PolicySettings(BaseModel):
    """The policy gate and pipeline defaults handed to every client workflow."""

    auto_approve: bool = False
    approval_expiry_hours: float = Field(default=72.0, gt=0)
    frequency_cap_days: int = Field(default=30, ge=0)
    quiet_hours_start: int = Field(default=20, ge=0, le=23)
    quiet_hours_end: int = Field(default=9, ge=0, le=23)
    holdout_fraction: float = Field(default=0.10, ge=0, le=1)
    cool_down_days: int = Field(default=30, ge=0)
    horizon_days: int = Field(default=90, ge=1)
    default_time_zone: str = "UTC"
    offer: str | None = None


class ScoringSettings(BaseModel):
    """The engagement model: when it is refitted and in which time unit."""

    refit_cron: str = "0 3 * * *"
    refit_time_zone: str = "UTC"
    refit_enabled: bool = True
    unit: Literal["days", "weeks"] = "days"
    refit_batch_size: int = Field(default=50_000, ge=1_000, le=1_000_000)

    @field_validator("refit_cron")
    @classmethod
    def _cron_shape(cls, value: str) -> str:
        if not (value.startswith("@") or len(value.split()) in (5, 6)):
            raise ValueError(f"expected a cron expression with 5 fields, got {value!r}")
        return value


class ApiSettings(BaseModel):
    """The HTTP front door."""

    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    public_base_url: str = "http://127.0.0.1:8000"
    max_body_bytes: int = Field(default=1_048_576, ge=1024)
    cors_origins: list[str] = Field(default_factory=lambda: ["http://127.0.0.1:8233"])


class SecuritySettings(BaseModel):
    """Signing and encryption secrets. Development defaults are not for production.

    Payload encryption (``core/codec.py``): ``codec_keys`` holds every key that may
    still be needed to decrypt (``id:base64key,...`` or a JSON object ``{"id": "base64key"}``,
    32-byte AES-256 keys); new payloads are encrypted with ``codec_active_key_id``
    (optional when only one key is configured). Without keys, Temporal clients refuse
    to start unless ``codec_disabled`` is set explicitly.
    """

    unsubscribe_secret: SecretStr = SecretStr("dev-unsubscribe-secret-change-me")
    session_secret: SecretStr = SecretStr("dev-session-secret-change-me")
    codec_keys: SecretStr | None = None
    codec_active_key_id: str | None = None
    codec_disabled: bool = False
    codec_tokens: SecretStr | None = None
    codec_allow_anonymous: bool = False


class WorkerSettings(BaseModel):
    """The worker process: where it serves Prometheus metrics (0 turns metrics off), and how
    many client workflows it keeps in memory (each ~190 KB; a workflow not in the cache is
    replayed from its history on its next task)."""

    metrics_host: str = "127.0.0.1"
    metrics_port: int = Field(default=9464, ge=0, le=65535)
    sdk_metrics_port: int = Field(default=0, ge=0, le=65535)
    max_cached_workflows: int = Field(default=1000, ge=0)


class TracingSettings(BaseModel):
    """OpenTelemetry tracing: off unless an OTLP/HTTP endpoint is configured."""

    otlp_endpoint: str | None = None
    service_name: str = "rekindle"


class DevStackSettings(BaseModel):
    """The one-machine stack started by ``rekindle up``."""

    data_dir: Path = Path("data")
    temporal_port: int = Field(default=7233, ge=1, le=65535)
    temporal_ui_port: int = Field(default=8233, ge=1, le=65535)
    smtp_sink_port: int = Field(default=1025, ge=1, le=65535)


class LogFormat(StrEnum):
    AUTO = "auto"
    CONSOLE = "console"
    JSON = "json"


class LoggingSettings(BaseModel):
    level: str = "INFO"
    format: LogFormat = LogFormat.AUTO

    @field_validator("level")
    @classmethod
    def _known_level(cls, value: str) -> str:
        upper = value.upper()
        if upper not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
            raise ValueError(f"unknown log level {value!r}")
        return upper


class Settings(BaseSettings):
    """All of Rekindle's configuration."""

    model_config = SettingsConfigDict(
        env_prefix="REKINDLE_",
        env_nested_delimiter="__",
        env_file=".env",
        extra="ignore",
    )

    database: DatabaseSettings = Field(default_factory=DatabaseSettings)
    temporal: TemporalSettings = Field(default_factory=TemporalSettings)
    smtp: SmtpSettings = Field(default_factory=SmtpSettings)
    llm: LlmSettings = Field(default_factory=LlmSettings)
    policy: PolicySettings = Field(default_factory=PolicySettings)
    scoring: ScoringSettings = Field(default_factory=ScoringSettings)
    api: ApiSettings = Field(default_factory=ApiSettings)
    security: SecuritySettings = Field(default_factory=SecuritySettings)
    devstack: DevStackSettings = Field(default_factory=DevStackSettings)
    worker: WorkerSettings = Field(default_factory=WorkerSettings)
    tracing: TracingSettings = Field(default_factory=TracingSettings)
    logging: LoggingSettings = Field(default_factory=LoggingSettings)
