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
    # The nightly refit reads every client: its own queue, so it never takes the main queue's slots.
    refit_task_queue: str = "rekindle-refit"
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
    # connections reused per worker (activities.mail.SmtpPool): at most this many open at once,
    # each for at most messages_per_connection messages (1 = a new connection per message),
    # closed after idle_seconds unused (below the server's own idle timeout)
    pool_size: int = Field(default=4, ge=1, le=64)
    messages_per_connection: int = Field(default=100, ge=1, le=10_000)
    idle_seconds: float = Field(default=30.0, gt=0, le=3600)
    # a private CA to trust for (START)TLS, e.g. a self-hosted relay; None = system store
    tls_ca_path: Path | None = None
    # EHLO name; None = the From address's domain (no slow getfqdn() lookup)
    helo_hostname: str | None = None
    # the sender's physical postal address (CAN-SPAM): in every footer; required outside the dev stack
    postal_address: str | None = Field(default=None, max_length=300)
    # DKIM signing of outgoing mail: on when a private key (PEM) is configured
    dkim_private_key: SecretStr | None = None
    dkim_selector: str = "rekindle"
    # the d= domain; None = the From address's domain
    dkim_domain: str | None = None


class LlmSettings(BaseModel):
    """Any OpenAI-compatible endpoint; with no key, the template drafter is used."""

    base_url: str | None = None
    model: str = "gpt-4o-mini"
    api_key: SecretStr | None = None
    timeout_seconds: float = Field(default=30.0, gt=0)


class PolicySettings(BaseModel):
    """The policy gate and pipeline defaults: they seed version 1 of the live policy
    (``core.store.policy_store``); after that the database's version rules. The holdout fraction and
    the horizon stay here: a client's arm must never change with an edit."""

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
    # Shop links drafts may carry as a call to action (seeds the live policy's allow-list).
    cta_links: list[str] = Field(default_factory=list)


class ScoringSettings(BaseModel):
    """The engagement model: when it is refitted and in which time unit."""

    refit_cron: str = "0 3 * * *"
    refit_time_zone: str = "UTC"
    refit_enabled: bool = True
    unit: Literal["days", "weeks"] = "days"
    # orders per keyset batch of the refit: 250,000 loads 4M orders from PostgreSQL in half the
    # time 50,000 takes (bench/refit.py), for ~150 MB more peak memory
    refit_batch_size: int = Field(default=250_000, ge=1_000, le=1_000_000)

    @field_validator("refit_cron")
    @classmethod
    def _cron_shape(cls, value: str) -> str:
        if not (value.startswith("@") or len(value.split()) in (5, 6)):
            raise ValueError(f"expected a cron expression with 5 fields, got {value!r}")
        return value


class FeedbackSettings(BaseModel):
    """Delivery feedback: provider webhooks (SES via SNS, SendGrid, Postmark) and inbound mail.

    A provider whose credentials are not configured answers 404: nothing is accepted unverified.
    """

    # SNS topics allowed to post (empty: any topic whose message verifies)
    sns_topic_arns: list[str] = Field(default_factory=list)
    # extra SigningCertURL/SubscribeURL prefixes to trust besides https://sns.<region>.amazonaws.com
    # (tests and private endpoints only, e.g. "http://127.0.0.1:8443/")
    sns_extra_url_prefixes: list[str] = Field(default_factory=list)
    # the Event Webhook's verification key: base64 DER (as SendGrid shows it) or PEM
    sendgrid_public_key: str | None = None
    sendgrid_max_age_seconds: int = Field(default=600, ge=1)
    # HTTP basic auth credentials of the Postmark bounce/spam and inbound webhooks
    postmark_username: str | None = None
    postmark_password: SecretStr | None = None
    # HTTP basic auth of the generic inbound-mail webhook (raw RFC 5322 mail: DSNs, mailto unsubscribes)
    inbound_username: str = "inbound"
    inbound_password: SecretStr | None = None
    # soft bounces after the last delivery that suppress the address
    soft_bounce_limit: int = Field(default=3, ge=1, le=100)

    @field_validator("sendgrid_public_key")
    @classmethod
    def _sendgrid_key(cls, value: str | None) -> str | None:
        # Refused at start, not with a 500 on the first webhook.
        if value is not None:
            from core.domain.feedback.sendgrid import load_public_key

            load_public_key(value)
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

    Payload encryption (``core/runtime/codec.py``): ``codec_keys`` holds every key that may
    still be needed to decrypt (``id:base64key,...`` or a JSON object ``{"id": "base64key"}``,
    32-byte AES-256 keys); new payloads are encrypted with ``codec_active_key_id``
    (optional when only one key is configured). Without keys, Temporal clients refuse
    to start unless ``codec_disabled`` is set explicitly.
    """

    unsubscribe_secret: SecretStr = SecretStr("dev-unsubscribe-secret-change-me")
    session_secret: SecretStr = SecretStr("dev-session-secret-change-me")
    # Keys the hash an erased client's address leaves on the suppression list (core/store/privacy.py);
    # changing it forgets those suppressions.
    suppression_hash_secret: SecretStr = SecretStr("dev-suppression-hash-secret-change-me")
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
    # Which code this worker runs (a git SHA or release tag), carried into its Worker
    # Deployment Version ``{deployment_name}.{build_id}`` and stamped on every workflow task it
    # completes; unversioned routing either way (docs/versioning.md). None: the SDK's checksum.
    build_id: str | None = Field(default=None, min_length=1, max_length=255, pattern=r"^[^.\s]+$")
    deployment_name: str = Field(default="rekindle", min_length=1, max_length=255, pattern=r"^[^.\s]+$")

    @field_validator("build_id", mode="before")
    @classmethod
    def _empty_build_id_is_unset(cls, value: object) -> object:
        # An image built without BUILD_ID carries REKINDLE_WORKER__BUILD_ID="" (Dockerfile).
        return None if value == "" else value


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


class WebhookSettings(BaseModel):
    """Outbound events to integrators' endpoints (Standard Webhooks), delivered by the worker
    on their own task queue. Private and loopback endpoint URLs are refused unless allowed
    (the dev stack allows them)."""

    task_queue: str = "rekindle-webhooks"
    allow_private_urls: bool = False
    timeout_seconds: float = Field(default=10.0, gt=0, le=60)
    # how often an idle delivery pass looks for new events in the outbox
    poll_interval_seconds: float = Field(default=1.0, gt=0, le=60)
    # retries back off exponentially from 1 s up to this
    max_retry_interval_seconds: float = Field(default=300.0, ge=1)
    # an event an endpoint refused for this long is marked failed and skipped
    give_up_after_hours: float = Field(default=72.0, gt=0)


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
    feedback: FeedbackSettings = Field(default_factory=FeedbackSettings)
    webhooks: WebhookSettings = Field(default_factory=WebhookSettings)
    logging: LoggingSettings = Field(default_factory=LoggingSettings)
