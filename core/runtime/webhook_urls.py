"""Which endpoint URLs Rekindle may call: https (http only where private URLs are allowed),
and, unless allowed, no private, loopback, link-local or otherwise internal address, so a
registered "webhook" cannot be aimed at the services inside our network."""

from __future__ import annotations

import asyncio
import ipaddress
import re
import socket
from urllib.parse import urlsplit

MAX_URL_LENGTH = 2048
_PORT = r"(6553[0-5]|655[0-2][0-9]|65[0-4][0-9]{2}|6[0-4][0-9]{3}|[1-5][0-9]{4}|[0-9]{1,4})"
# The form a new endpoint's URL takes (the API's schema says the same): absolute http(s), a host
# name (ASCII; an IDN in its xn-- form) or IPv4 address (not an IPv6 literal: no pattern can
# tell a valid one), an optional port up to 65535, then a path, query or fragment without
# white space.
URL_PATTERN = rf"^[Hh][Tt][Tt][Pp][Ss]?://[A-Za-z0-9._-]+(:{_PORT})?([/?#][^\s]*)?$"


def _internal(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%")[0])
    return not ip.is_global or ip.is_multicast


def url_form_problem(url: str) -> str | None:
    """Why ``url`` is not the form a new endpoint takes (``URL_PATTERN``), or ``None``."""
    if re.fullmatch(URL_PATTERN, url) is None:
        return "an absolute http(s) URL is needed"
    return None


async def url_problem(url: str, allow_private: bool) -> str | None:
    """Why ``url`` may not be used, or ``None``; resolves the host (checked again at delivery)."""
    if len(url) > MAX_URL_LENGTH:
        return f"at most {MAX_URL_LENGTH} characters"
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises for a port out of range
    except ValueError:  # "https://[:::]/", "https://host:99999/"
        return "an absolute http(s) URL is needed"
    if parts.username or parts.password:
        return "credentials in the URL are not allowed; sign with the endpoint secret instead"
    if parts.scheme not in ("https", "http") or not parts.hostname:
        return "an absolute http(s) URL is needed"
    if allow_private:
        return None
    if parts.scheme != "https":
        return "https is required"
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(
            parts.hostname, parts.port or 443, type=socket.SOCK_STREAM
        )
    except OSError:
        return "the host name does not resolve"
    if any(_internal(str(info[4][0])) for info in infos):
        return "private, loopback and link-local addresses are not allowed"
    return None
