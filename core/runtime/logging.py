"""structlog setup: console when interactive, JSON otherwise, secrets and personal data redacted."""

from __future__ import annotations

import functools
import logging
import re
import sys
from collections.abc import MutableMapping
from typing import Any, TextIO

import structlog

from core.runtime.settings import LogFormat, LoggingSettings

# Keys whose values never reach a log line, whatever their nesting.
REDACTED_KEYS = frozenset(
    {
        "api_key",
        "authorization",
        "password",
        "secret",
        "token",
        "email",
        "to_address",
        "first_name",
        "last_name",
        "name",
        "style_notes",
        "subject",
        "body",
        "body_text",
        "body_html",
        "preheader",
        "cookie",
        "set-cookie",
        "x-api-key",
        "codec_keys",
    }
)
# Any key ending in one of these is a secret too (access_token, unsubscribe_secret, private_key).
REDACTED_SUFFIXES = ("token", "secret", "password", "key", "keys", "credentials")
REDACTED = "[redacted]"
# Last line of defence for free text (messages, exception text): addresses and bearer tokens.
EMAIL_RE = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")
BEARER_RE = re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]+")


@functools.lru_cache(maxsize=4096)  # keys are few and repeat on every line (the access log's)
def _is_sensitive(key: object) -> bool:
    name = str(key).lower()
    return name in REDACTED_KEYS or any(
        name == suffix or name.endswith(("_" + suffix, "-" + suffix)) for suffix in REDACTED_SUFFIXES
    )


def _redact_value(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: REDACTED if _is_sensitive(k) else _redact_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_redact_value(v) for v in value]
    return value


def redact(_logger: Any, _method: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """structlog processor: replace known secret and personal fields."""
    for key in list(event_dict):
        if key != "event" and _is_sensitive(key):
            event_dict[key] = REDACTED
        else:
            event_dict[key] = _redact_value(event_dict[key])
    return event_dict


def scrub_text(text: str) -> str:
    """Mask email addresses and bearer/basic credentials inside free text."""
    return BEARER_RE.sub(lambda m: f"{m.group(1)} {REDACTED}", EMAIL_RE.sub("[email]", text))


def _scrub(value: Any) -> Any:
    if isinstance(value, str):
        return scrub_text(value)
    if isinstance(value, dict):
        return {k: _scrub(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_scrub(v) for v in value]
    return value


def scrub(_logger: Any, _method: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """structlog processor, after exceptions are rendered: scrub every string value."""
    for key in list(event_dict):
        event_dict[key] = _scrub(event_dict[key])
    return event_dict


def configure_logging(settings: LoggingSettings, stream: TextIO | None = None) -> None:
    """Configure structlog and route the standard library's logging through it (to stderr)."""
    stream = stream or sys.stderr
    use_json = settings.format == LogFormat.JSON or (
        settings.format == LogFormat.AUTO and not stream.isatty()
    )
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        redact,
    ]
    renderer: Any = (
        structlog.processors.JSONRenderer() if use_json else structlog.dev.ConsoleRenderer(colors=False)
    )
    structlog.configure(
        # filter_by_level first: a call below the level (the access log under WARNING) is
        # dropped before the processors run, not after the whole chain.
        processors=[
            structlog.stdlib.filter_by_level,
            *shared,
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            scrub,
            renderer,
        ],
    )
    handler = logging.StreamHandler(stream)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(settings.level)
    for noisy in ("uvicorn.access", "httpx", "aiosqlite", "sqlalchemy.engine", "mail.log", "alembic"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))


def get_logger(name: str) -> structlog.stdlib.BoundLogger:
    return structlog.get_logger(name)  # type: ignore[no-any-return]
