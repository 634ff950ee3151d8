"""Pending warnings and "Post anyway" overrides, held in the proxy's memory only.

A warning creates a pending entry under a random token (what the user would post, where,
and the original request so a plain form post can be replayed). "Post anyway" with a
justification turns it into an override: the same content to the same target, from the
same client, passes once within the override window. Nothing here touches disk: the
justification goes to the interception log, the request bytes are forgotten on expiry.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

# Bounds so that a client producing endless warnings cannot grow the proxy's memory: entries,
# and bytes of original requests kept for replay (oldest warnings are forgotten first).
MAX_PENDING = 2048
MAX_OVERRIDES = 2048
MAX_PENDING_BYTES = 64 * 1024 * 1024


def content_key(site: str, target: str | None, texts: Iterable[str], links: Iterable[str],
                images: Iterable[tuple[str, bytes]], client: str) -> str:
    """A hash of what is posted, where and by whom — not of the raw body.

    Bodies carry rotating tokens, timestamps and mutation ids, so a retry of the same post
    never has the same bytes; what the user publishes and where does not change.
    """
    h = hashlib.sha256()
    for part in (site, target or "", client):
        h.update(part.encode("utf-8", "surrogatepass") + b"\0")
    for t in texts:
        h.update(b"t" + t.strip().encode("utf-8", "surrogatepass") + b"\0")
    for link in links:
        h.update(b"l" + link.encode("utf-8", "surrogatepass") + b"\0")
    for _name, data in images:
        h.update(b"i" + hashlib.sha256(data).digest())
    return h.hexdigest()


@dataclass
class Pending:
    """A warning shown to the user that may still be overridden."""

    token: str
    key: str
    host: str
    created: float
    event: dict[str, Any]
    # The original request (method, url, headers, raw body) to replay after a form override.
    request: tuple[str, str, list[tuple[bytes, bytes]], bytes] | None = None
    used: bool = False
    meta: dict[str, Any] = field(default_factory=dict)


class Overrides:
    """Thread-safe store of pending warnings and granted overrides (single use, with expiry)."""

    def __init__(self, window_seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        """`window_seconds`: how long a warning can be overridden and an override stays valid."""
        self.window = float(window_seconds)
        self._clock = clock
        self._lock = threading.Lock()
        self._pending: OrderedDict[str, Pending] = OrderedDict()
        self._granted: OrderedDict[str, float] = OrderedDict()  # key -> expiry
        self._bytes = 0  # request bytes held by pending entries

    @staticmethod
    def _size(p: Pending) -> int:
        return len(p.request[3]) + sum(len(k) + len(v) for k, v in p.request[2]) if p.request else 0

    def _expire(self, now: float) -> None:
        while self._pending and (next(iter(self._pending.values())).created + self.window < now
                                 or len(self._pending) > MAX_PENDING or self._bytes > MAX_PENDING_BYTES):
            _, old = self._pending.popitem(last=False)
            self._bytes -= self._size(old)
        for k in [k for k, exp in self._granted.items() if exp < now]:
            del self._granted[k]
        while len(self._granted) > MAX_OVERRIDES:
            self._granted.popitem(last=False)

    def add_pending(self, key: str, host: str, event: dict[str, Any],
                    request: tuple[str, str, list[tuple[bytes, bytes]], bytes] | None) -> str:
        """Remember a warning; return the token the warning page or JSON carries."""
        token = secrets.token_urlsafe(18)
        with self._lock:
            now = self._clock()
            p = Pending(token, key, host, now, event, request)
            self._pending[token] = p
            self._bytes += self._size(p)
            self._expire(now)
        return token

    def get_pending(self, token: str, host: str) -> Pending | None:
        """The live pending warning for this token on this host, or None."""
        with self._lock:
            self._expire(self._clock())
            p = self._pending.get(token)
            if p is None or p.host.lower() != host.lower() or p.used:
                return None
            return p

    def grant(self, token: str, host: str) -> Pending | None:
        """Turn a pending warning into a single-use override; None if unknown or expired."""
        with self._lock:
            now = self._clock()
            self._expire(now)
            p = self._pending.get(token)
            if p is None or p.host.lower() != host.lower() or p.used:
                return None
            p.used = True
            self._bytes -= self._size(p)
            self._pending.pop(token, None)  # the caller holds it; nothing to keep
            self._granted[p.key] = now + self.window
            return p

    def consume(self, key: str) -> bool:
        """True once if an unexpired override exists for this content key (then it is gone)."""
        with self._lock:
            now = self._clock()
            exp = self._granted.pop(key, None)
            return exp is not None and exp >= now

    def __len__(self) -> int:
        """Pending plus granted entries (for tests of the memory bound)."""
        with self._lock:
            return len(self._pending) + len(self._granted)
