"""Fetching from "any host" (JOELCLAW_DOCS_FETCH_HOSTS=*) means any *public* host: a URL must
not reach this machine, the local network or the cloud metadata address (a request forgery
through the docs library).

The check happens where the connection is made, on the addresses the name resolves to then, so
a name that resolves to a public address when checked and to 127.0.0.1 when used (DNS
rebinding) cannot slip through: httpcore's network backend is swapped for one that resolves,
refuses any non-public address, and connects to the address it checked (TLS still verifies the
name). Hosts the owner lists by name are trusted as listed and do not come here.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable
from typing import Any

import httpcore
import httpx

from joelclaw.errors import JoelclawError


def is_public(address: str) -> bool:
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


class NotPublic(JoelclawError, httpcore.ConnectError):
    """The host resolves to an address that is not public."""


class _PublicBackend(httpcore.NetworkBackend):
    def __init__(self) -> None:
        self._inner = httpcore.SyncBackend()

    def connect_tcp(self, host: str, port: int, timeout: float | None = None,
                    local_address: str | None = None,
                    socket_options: Iterable[Any] | None = None) -> httpcore.NetworkStream:
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except socket.gaierror as exc:
            raise httpcore.ConnectError(f"cannot resolve {host}: {exc}") from None
        addresses = [str(info[4][0]) for info in infos]
        refused = [a for a in addresses if not is_public(a)]
        if refused or not addresses:
            raise NotPublic(f"{host} resolves to {', '.join(refused) or 'nothing'}, which is "
                            "not a public address")
        return self._inner.connect_tcp(addresses[0], port, timeout, local_address,
                                       socket_options)

    def connect_unix_socket(self, path: str, timeout: float | None = None,
                            socket_options: Iterable[Any] | None = None
                            ) -> httpcore.NetworkStream:
        raise NotPublic("unix sockets are not public hosts")

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


class PublicOnlyTransport(httpx.HTTPTransport):
    """httpx's transport, connecting only to public addresses (no proxy from the environment:
    the proxy's own address would be what is checked)."""

    def __init__(self) -> None:
        super().__init__()
        self._pool = httpcore.ConnectionPool(ssl_context=httpx.create_ssl_context(),
                                             network_backend=_PublicBackend())
