"""Loopback ports for the embedded servers: a free one, or the one recorded last time.

A recorded port is probed the way the servers bind it (SO_REUSEADDR), so a socket of the previous
run still in TIME_WAIT does not move the server to a new port after a restart; a port with a live
listener still counts as taken.
"""

from __future__ import annotations

import contextlib
import socket
from pathlib import Path

LOOPBACK = "127.0.0.1"


def free_port(host: str = LOOPBACK) -> int:
    """A port nothing listens on now (the kernel's pick)."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def port_is_free(port: int, host: str = LOOPBACK) -> bool:
    """True when a server binding with SO_REUSEADDR (Redis, Typesense) could take `port`."""
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def recorded_port(path: Path, *, avoid: set[int] | frozenset[int] = frozenset()) -> int:
    """The port recorded in `path` when it can still be bound, else a new free one (written)."""
    with contextlib.suppress(OSError, ValueError):
        recorded = int(path.read_text().strip())
        if recorded not in avoid and port_is_free(recorded):
            return recorded
    port = free_port()
    while port in avoid:
        port = free_port()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(str(port))
    return port
