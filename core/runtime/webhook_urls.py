"""Which endpoint URLs Rekindle may call: https (http only where private URLs are allowed),
and, unless allowed, no private, loopback, link-local or otherwise internal address, so a
registered "webhook" cannot be aimed at the services inside our network."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from urllib.parse import urlsplit

MAX_URL_LENGTH = 2048


def _internal(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%")[0])
    return not ip.is_global or ip.is_multicast


async def url_problem(url: str, allow_private: bool) -> str | None:
    """Why ``url`` may not be used, or ``None``; resolves the host (checked again at delivery)."""
    if len(url) > MAX_URL_LENGTH:
        return f"at most {MAX_URL_LENGTH} characters"
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        return "an absolute http(s) URL is needed"
    if parts.username or parts.password:
        return "credentials in the URL are not allowed; sign with the endpoint secret instead"
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
