"""The test helpers other tests lean on."""

from __future__ import annotations

import socket

from tests.helpers import free_port


def test_free_port_never_repeats_and_is_bindable() -> None:
    # The kernel reuses a just-closed ephemeral port; the dev stack test once got one port for
    # two services. A run of calls must give distinct ports, each of which can be bound.
    ports = [free_port() for _ in range(2000)]
    assert len(set(ports)) == len(ports)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", ports[-1]))
