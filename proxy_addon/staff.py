"""Who is posting: the OS account that owns the client end of a proxied connection (Linux).

The browser's connection to the proxy runs over loopback on the same machine, so the kernel's
socket table (/proc/net/tcp, /proc/net/tcp6) holds the client's own socket: local address = the
client's (ip, port) as the proxy sees it, remote address = the proxy's listening address, and the
uid that created it. That uid's account name is the staff member (source `os-user`). Where the
table has no such entry (another OS, a client on another machine, another network namespace), the
device's assigned user from enrolment is used (source `enrolment`), or nothing.

The answer is looked up once per client connection, when its first event is recorded, and
forgotten when the connection closes.
"""

from __future__ import annotations

import ipaddress
import logging
import pwd
import struct
from collections.abc import Sequence
from typing import Any

log = logging.getLogger("postguard.proxy")

TABLES = ("/proc/net/tcp", "/proc/net/tcp6")
Address = tuple[ipaddress.IPv4Address | ipaddress.IPv6Address, int]


def _ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    """An address as the comparison needs it: IPv4-mapped IPv6 (a dual-stack socket) as IPv4."""
    ip = ipaddress.ip_address(text.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    return ip


def _hex_address(field: str) -> Address:
    """`0100007F:1F90` (IPv4) or 32 hex digits:port (IPv6): the kernel prints each 32-bit word of
    the address in host byte order, the port as a plain number."""
    addr, port = field.split(":")
    words = struct.pack(f"={len(addr) // 8}I", *(int(addr[i:i + 8], 16) for i in range(0, len(addr), 8)))
    return _ip(str(ipaddress.ip_address(words))), int(port, 16)


def socket_uid(client: Sequence[Any], proxy: Sequence[Any], tables: Sequence[str] = TABLES) -> int | None:
    """The uid owning the socket whose local end is `client` (ip, port, ...) and remote end `proxy`;
    None when no table has it."""
    try:
        want = ((_ip(str(client[0])), int(client[1])), (_ip(str(proxy[0])), int(proxy[1])))
    except (ValueError, IndexError, TypeError):  # not an IP address (a test flow, a Unix socket)
        return None
    for table in tables:
        try:
            with open(table, encoding="ascii") as f:
                next(f, None)  # the header
                for line in f:
                    parts = line.split()
                    if len(parts) < 8:
                        continue
                    try:
                        if (_hex_address(parts[1]), _hex_address(parts[2])) == want:
                            return int(parts[7])
                    except ValueError:
                        continue
        except OSError:  # no such table here (not Linux, no IPv6)
            continue
    return None


def account_name(uid: int) -> str | None:
    """The account name of `uid`; None when it has no passwd entry."""
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return None


class ConnectionStaff:
    """Per client connection: (staff, source) of its owner, cached until it closes."""

    def __init__(self, tables: Sequence[str] = TABLES) -> None:
        """`tables` are the socket tables to read (tests may point elsewhere)."""
        self.tables = tables
        self._known: dict[str, tuple[str, str] | None] = {}

    def of(self, client: Any) -> tuple[str, str] | None:
        """(account name, "os-user") of the client's socket owner, or None."""
        key = getattr(client, "id", None)
        if key in self._known:
            return self._known[key]
        found: tuple[str, str] | None = None
        peer, sock = getattr(client, "peername", None), getattr(client, "sockname", None)
        if peer and sock:
            try:
                uid = socket_uid(peer, sock, self.tables)
            except Exception:  # never in the way of a post: fall back to the enrolled user
                log.exception("postguard: could not read the socket owner")
                uid = None
            name = account_name(uid) if uid is not None else None
            found = (name, "os-user") if name else None
        if key is not None:
            if len(self._known) > 4096:
                self._known.clear()
            self._known[key] = found
        return found

    def forget(self, client: Any) -> None:
        """The connection closed."""
        key = getattr(client, "id", None)
        if key is not None:
            self._known.pop(key, None)

    # mitmproxy hook (this object is one of the add-on's parts)
    def client_disconnected(self, client: Any) -> None:
        """Drop the connection's cached owner."""
        self.forget(client)
