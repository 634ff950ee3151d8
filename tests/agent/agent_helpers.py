"""The server under test, an enrolled device, and events written to the device's queue as the
proxy and the backend write them (through `store.open_store`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from agent.client import DeviceAPI, enroll
from agent.queue import LocalQueue
from agent.state import Device, StateDir, new_key
from server import ServerConfig
from server.keys import STATE
from store import Event, Store, StoreConfig, devices, open_store
from store.db import Conn, migrate

FULL = StoreConfig(content_mode="full", retention_days=0)


@dataclass
class Running:
    """A server on loopback: its URL, application and settings."""

    url: str
    app: Any
    cfg: ServerConfig

    def conn(self) -> Conn:
        """A connection of the test's own to the server's database."""
        c = Conn(self.cfg.db)
        migrate(c)
        return c

    def codes(self, n: int = 1) -> list[str]:
        """Fresh enrolment codes."""
        c = self.conn()
        try:
            return devices.make_codes(c, n, 3600, "test")[0]
        finally:
            c.close()

    def query(self, sql: str, params: tuple[Any, ...] = ()) -> list[dict[str, Any]]:
        """Rows from the server's database."""
        assert self.app[STATE].store.flush()
        c = self.conn()
        try:
            return c.all(sql, params)
        finally:
            c.close()

    def seqs(self, device: str) -> list[int]:
        """The seqs the server holds for a device, in order."""
        return [int(r["seq"]) for r in self.query("SELECT seq FROM events WHERE device = ? ORDER BY seq", (device,))]


@dataclass
class Enrolled:
    """An enrolled device: state folder, key, signed client and local queue."""

    state: StateDir
    device: Device
    key: Any
    api: DeviceAPI
    queue: LocalQueue
    _stores: list[Store] = field(default_factory=list)

    @property
    def id(self) -> str:
        return self.device.device_id

    def writer(self) -> Store:
        """The queue opened as the proxy opens it (one writer thread, chained appends)."""
        st = open_store(str(self.state.queue), FULL, device=self.id, employee="a.teacher", auto_purge=False)
        self._stores.append(st)
        return st

    def fill(self, n: int, text: str = "post") -> list[str]:
        """Append `n` events and wait until they are committed locally; their uids."""
        st = self._stores[0] if self._stores else self.writer()
        uids = [st.append(Event(source="proxy", action="warned", site="x.com", text=f"{text} {i}")) for i in range(n)]
        assert st.flush()
        return uids

    def local(self, sql: str, params: tuple[Any, ...] = ()) -> list[dict[str, Any]]:
        """Rows from the local queue."""
        c = Conn(str(self.state.queue))
        try:
            migrate(c)
            return c.all(sql, params)
        finally:
            c.close()

    def close(self) -> None:
        """Close the writers and the queue."""
        for st in self._stores:
            st.close()
        self.queue.close()


async def enrol_one(srv: Running, folder: Path, http: aiohttp.ClientSession, hostname: str = "pc-lab-1") -> Enrolled:
    """Enrol a device with a fresh code; its state folder, key, API client and local queue."""
    state = StateDir(folder)
    state.ensure()
    key = new_key()
    reply = await enroll(srv.url, srv.codes()[0], key, hostname=hostname, name=None, agent_version="test")
    assert reply.status == 201, reply
    device = Device(server=srv.url, device_id=reply.body["device_id"], hostname=hostname,
                    enrolled_at=reply.body["server_time"], heartbeat_interval=reply.body["heartbeat_interval"])
    state.save_key(key)
    state.save_device(device)
    api = DeviceAPI(srv.url, device.device_id, key, http, timeout=10)
    return Enrolled(state, device, key, api, LocalQueue(state.queue, device.device_id))
