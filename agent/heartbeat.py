"""Heartbeats: every interval (the server says how long; 300 s by default) the agent reports its
version, policy digest, chain head, whether the proxy and the backend answer, when the extension
last called the backend, the queue's depth and limit, and its clock."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from agent.client import DeviceAPI, network_error
from agent.queue import LocalQueue
from store.event import iso

log = logging.getLogger("postguard.agent")
MIN_INTERVAL, MAX_INTERVAL = 5, 3600
SOON = 5.0  # seconds to the next beat while the proxy or backend is still starting


def _never(name: str) -> bool:
    return False


@dataclass(frozen=True)
class Components:
    """Where the agent's proxy and backend listen (None: not run by this agent), and whether one
    is still starting (a component that does not answer yet is then reported unknown, not down,
    so an agent's own start opens no problem on the server)."""

    proxy: tuple[str, int] | None = None
    backend: tuple[str, int] | None = None
    starting: Callable[[str], bool] = _never


async def probe_proxy(addr: tuple[str, int], timeout: float = 2.0) -> bool:
    """Whether the proxy accepts a connection."""
    try:
        _, writer = await asyncio.wait_for(asyncio.open_connection(*addr), timeout)
    except (TimeoutError, OSError):
        return False
    writer.close()
    try:
        await writer.wait_closed()
    except OSError:
        pass
    return True


async def probe_backend(session: aiohttp.ClientSession, addr: tuple[str, int],
                        timeout: float = 2.0) -> tuple[bool, str | None]:
    """Whether the backend answers /healthz, and when the extension last called it (ISO time or None)."""
    host, port = addr
    try:
        async with session.get(f"http://{host}:{port}/healthz", headers={"Host": f"{host}:{port}"},
                               timeout=aiohttp.ClientTimeout(total=timeout)) as r:
            if r.status != 200:
                return False, None
            body = await r.json(content_type=None)
    except (TimeoutError, aiohttp.ClientError, OSError, ValueError):
        return False, None
    seen = body.get("extension_seen") if isinstance(body, dict) else None
    return True, seen if isinstance(seen, str) else None


@dataclass
class HeartbeatState:
    """What the last heartbeat found and what the server answered."""

    interval: int = 300
    last_at: float | None = None
    last_ok_at: float | None = None
    error: str | None = None
    proxy_up: bool | None = None
    backend_up: bool | None = None
    extension_seen: str | None = None
    server_policy: str | None = None
    revoked: bool = False
    sent: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """For status.json."""
        return dict(self.__dict__)


class Heartbeat:
    """Sends the device's heartbeat every interval."""

    def __init__(self, api: DeviceAPI, queue: LocalQueue, session: aiohttp.ClientSession, components: Components,
                 *, version: str, policy_digest: str, queue_limit: int, interval: int = 300) -> None:
        self.api = api
        self.queue = queue
        self.session = session
        self.components = components
        self.version = version
        self.policy_digest = policy_digest
        self.queue_limit = queue_limit
        self.started_at = iso(None)
        self.state = HeartbeatState(interval=clamp(interval))
        self.provisional = False  # the last beat found a component still starting: beat again soon
        self.policy_version: int | None = None  # the signed bundle installed (0: the local folder)
        self.policy_refused: str | None = None  # why the newest bundle was refused, until one is taken

    async def fields(self) -> dict[str, Any]:
        """The heartbeat's body (docs/device-api.md)."""
        c = self.components
        proxy_up = await probe_proxy(c.proxy) if c.proxy else None
        backend_up, seen = await probe_backend(self.session, c.backend) if c.backend else (None, None)
        self.provisional = False
        if proxy_up is False and c.starting("proxy"):
            proxy_up, self.provisional = None, True
        if backend_up is False and c.starting("backend"):
            backend_up, self.provisional = None, True
        q = await self.queue.stats()
        self.state.proxy_up, self.state.backend_up, self.state.extension_seen = proxy_up, backend_up, seen
        return {"agent_version": self.version, "policy_digest": self.policy_digest, "last_seq": q.head_seq,
                "head_hash": q.head_hash if q.head_seq else None, "proxy_up": proxy_up, "backend_up": backend_up,
                "extension_seen": seen, "queue_depth": q.depth, "queue_limit": self.queue_limit,
                "clock": iso(time.time()), "started_at": self.started_at, "policy_version": self.policy_version,
                "policy_refused": self.policy_refused}

    async def beat(self) -> bool:
        """Send one heartbeat; True when the server took it."""
        body = await self.fields()
        self.state.last_at, self.state.sent = time.time(), body
        try:
            reply = await self.api.heartbeat(body)
        except (TimeoutError, aiohttp.ClientError, OSError) as e:
            return self._failed(f"server unreachable: {network_error(e)}")
        if reply.status != 200:
            if reply.status == 401 and reply.reason in ("revoked", "unknown-device"):
                self.state.revoked = True
            return self._failed(f"server answered {reply.status}: {reply.reason or reply.error or 'error'}")
        b = reply.body
        if isinstance(b.get("heartbeat_interval"), int):
            self.state.interval = clamp(b["heartbeat_interval"])
        want = b.get("policy_digest")
        if isinstance(want, str) and want != self.policy_digest and want != self.state.server_policy:
            log.warning("heartbeat: the server's policy is %s, this computer runs %s", want[:16],
                        self.policy_digest[:16])
        self.state.server_policy = want if isinstance(want, str) else None
        self.state.last_ok_at, self.state.error = time.time(), None
        return True

    def _failed(self, why: str) -> bool:
        if why != self.state.error:
            log.warning("heartbeat: %s", why)
        self.state.error = why
        return False

    async def run(self, stop: asyncio.Event) -> None:
        """Beat now, then every interval, until `stop` is set."""
        while not stop.is_set():
            try:
                await self.beat()
            except Exception:
                log.exception("heartbeat failed")
            try:
                await asyncio.wait_for(stop.wait(), min(self.state.interval, SOON) if self.provisional
                                       else self.state.interval)
            except TimeoutError:
                pass


def clamp(interval: int) -> int:
    """An interval within what the agent accepts from a server."""
    return max(MIN_INTERVAL, min(MAX_INTERVAL, int(interval)))
