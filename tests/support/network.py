"""Block the network inside a test: name lookups and TCP/UDP connections fail, as on a machine offline."""

from __future__ import annotations

import contextlib
import ipaddress
import socket
from collections.abc import Iterator
from typing import Any
from unittest import mock


class NetworkBlocked(OSError):
    """Raised on any attempt to look up a name or open an internet socket while the network is blocked."""


def _is_loopback(host: object) -> bool:
    if host in ("localhost", b"localhost"):
        return True
    try:
        return ipaddress.ip_address(host.decode() if isinstance(host, bytes) else str(host)).is_loopback
    except ValueError:
        return False


@contextlib.contextmanager
def network_blocked(*, allow_loopback: bool = False) -> Iterator[list[Any]]:
    """Refuse name lookups and AF_INET/AF_INET6 connections (Unix sockets stay usable; loopback too if allowed).

    Yields the list of addresses that were tried, for a test to assert on.
    """
    attempts: list[Any] = []
    original_connect = socket.socket.connect
    original_connect_ex = socket.socket.connect_ex
    original_getaddrinfo = socket.getaddrinfo

    def allowed(address: Any) -> bool:
        return allow_loopback and isinstance(address, tuple) and _is_loopback(address[0])

    def refuse(self: socket.socket, address: Any) -> Any:
        if self.family in (socket.AF_INET, socket.AF_INET6) and not allowed(address):
            attempts.append(address)
            raise NetworkBlocked(f"network blocked in this test: connection to {address!r} refused")
        return original_connect(self, address)

    def refuse_ex(self: socket.socket, address: Any) -> Any:
        if self.family in (socket.AF_INET, socket.AF_INET6) and not allowed(address):
            attempts.append(address)
            raise NetworkBlocked(f"network blocked in this test: connection to {address!r} refused")
        return original_connect_ex(self, address)

    def refuse_lookup(host: Any, *args: Any, **kwargs: Any) -> Any:
        if not (allow_loopback and _is_loopback(host)):
            attempts.append(host)
            raise NetworkBlocked(f"network blocked in this test: lookup of {host!r} refused")
        return original_getaddrinfo(host, *args, **kwargs)

    with (
        mock.patch.object(socket.socket, "connect", refuse),
        mock.patch.object(socket.socket, "connect_ex", refuse_ex),
        mock.patch.object(socket, "getaddrinfo", refuse_lookup),
    ):
        yield attempts
