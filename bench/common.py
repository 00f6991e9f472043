"""What every bench shares: the ``--short`` mode that ``make bench`` runs, and free ports."""

from __future__ import annotations

import argparse
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
