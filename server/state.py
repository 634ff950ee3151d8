"""The server's state in memory: the policy digest it serves, per-device upload locks, and the
events it logs itself (a device problem opened; the extension API's policy swapped or refused)."""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from typing import Any

from store import Store
from store.event import iso, new_uid

log = logging.getLogger("postguard.server")
SERVER_DEVICE = "server"  # the chain of the server's own events (device ids always end in -hex)


@dataclass
class ServerState:
    """Mutable state of one server process."""

    store: Store
    digest: str
    known_digests: set[str] = field(default_factory=set)
    _locks: dict[str, asyncio.Lock] = field(default_factory=dict)

    def lock(self, device: str) -> asyncio.Lock:
        """One upload at a time per device (a second waits here, not on a database lock)."""
        lk = self._locks.get(device)
        if lk is None:
            lk = self._locks[device] = asyncio.Lock()
        return lk

    def problem_opened(self, device: str, kind: str, detail: str) -> None:
        """Log a new device problem as the server's own event (queued; never blocks)."""
        log.warning("device problem: %s %s: %s", device, kind, detail)
        self.store.writer.submit_event(problem_event(device, kind, detail, self.digest))


def problem_event(device: str, kind: str, detail: str, digest: str, now: float | None = None) -> dict[str, Any]:
    """The row of a `device-problem` event in the server's own chain (chained by the store's writer)."""
    return server_event("device-problem", f"{kind}: {detail}", digest, target=device, now=now)


def server_event(kind: str, detail: str | None, digest: str, target: str | None = None,
                 now: float | None = None) -> dict[str, Any]:
    """The row of one of the server's own events (`device-problem`; `policy-updated` and
    `policy-refused` for the policy its extension API checks with), chained by the store's writer."""
    now = time.time() if now is None else now
    return {"uid": new_uid(now), "ts": iso(now), "device": SERVER_DEVICE, "employee": None, "source": "server",
            "site": None, "url": None, "account": None, "target": target, "kind": kind,
            "action": "logged", "rules": "", "findings": "[]", "justification": None, "content_mode": "none",
            "content": None, "content_hash": None, "policy_digest": digest,
            "error": detail[:500] if detail else None, "request_id": None}
