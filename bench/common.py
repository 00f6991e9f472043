"""What every bench shares: the ``--short`` mode that ``make bench`` runs, and free ports."""

from __future__ import annotations

import argparse
import os
import secrets
import socket
from typing import Any

SHORT_HELP = "small sizes for CI (make bench): checks the bench still runs; its figures mean little"


def parse_args(parser: argparse.ArgumentParser, **short: Any) -> argparse.Namespace:
    """Parse with a ``--short`` flag whose sizes replace the defaults (explicit options still win)."""
    parser.add_argument("--short", action="store_true", help=SHORT_HELP)
    args = parser.parse_args()
    if args.short:
        # Defaults swapped, then parsed again: what the command line gave keeps its value.
        parser.set_defaults(**short)
        args = parser.parse_args()
    return args


def free_port() -> int:
    """A port nothing listens on now (loopback), chosen by the kernel."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def production_env() -> dict[str, str]:
    """What ``python -m api``/``worker`` refuse to start without (core/runtime/startup.py): fresh
    signing secrets for this run and a postal address for the footers."""
    return {
        "REKINDLE_SECURITY__SESSION_SECRET": secrets.token_urlsafe(32),
        "REKINDLE_SECURITY__UNSUBSCRIBE_SECRET": secrets.token_urlsafe(32),
        "REKINDLE_SECURITY__SUPPRESSION_HASH_SECRET": secrets.token_urlsafe(32),
        "REKINDLE_SMTP__POSTAL_ADDRESS": "Rekindle Bench, 1 Example Street, Springfield",
    }


def worker_env(address: str, db_url: str, task_queue: str, codec_keys: str) -> dict[str, str]:
    """The environment for ``python -m worker`` and ``rekindle import`` against a bench's own
    stack: this process's environment without any ``REKINDLE_`` setting of its own, payloads
    encrypted with ``codec_keys`` as in production, and no metrics endpoint (its fixed port
    would clash with another bench's worker when ``make bench`` runs them side by side)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("REKINDLE_")}
    env.update(
        {
            "REKINDLE_TEMPORAL__ADDRESS": address,
            "REKINDLE_TEMPORAL__TASK_QUEUE": task_queue,
            "REKINDLE_DATABASE__URL": db_url,
            "REKINDLE_LOGGING__LEVEL": "WARNING",
            "REKINDLE_SECURITY__CODEC_KEYS": codec_keys,
            "REKINDLE_WORKER__METRICS_PORT": "0",
            **production_env(),
        }
    )
    return env
