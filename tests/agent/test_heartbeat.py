"""Heartbeats: the fields the server's device health is made of, probed from the real proxy port
and the real extension backend, and what the server does with them."""

from __future__ import annotations

import asyncio
import socket
from typing import Any

import aiohttp
from agent_helpers import Enrolled, Running

from agent.heartbeat import Components, Heartbeat, probe_backend, probe_proxy
from extension.backend import BackendConfig, create_app
from postguard.cli import main

TOKEN = "test-token-0123456789"


class NoLog:
    """The backend's log, unused here."""

    def append(self, ev: Any) -> str:
        return "x"


def closed_port() -> tuple[str, int]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return "127.0.0.1", int(s.getsockname()[1])


async def test_the_proxy_probe_connects() -> None:
    srv = await asyncio.start_server(lambda r, w: w.close(), "127.0.0.1", 0)
    addr = srv.sockets[0].getsockname()[:2]
    try:
        assert await probe_proxy(addr) is True
    finally:
        srv.close()
        await srv.wait_closed()
    assert await probe_proxy(closed_port()) is False


async def test_the_backend_probe_reads_when_the_extension_was_seen(aiohttp_server: Any, policy: Any,
                                                                   http: aiohttp.ClientSession) -> None:
    app = create_app(BackendConfig(policy=policy, token=TOKEN, store=NoLog()))
    srv = await aiohttp_server(app, host="127.0.0.1")
    addr = ("127.0.0.1", int(srv.port))
    assert await probe_backend(http, addr) == (True, None)
    ext = {"Origin": "chrome-extension://cfhkgcbpcbcjkgnkmbohmopdpfchpjla", "X-Postguard-Token": "wrong-token-000000"}
    async with http.post(f"http://127.0.0.1:{srv.port}/v1/policy", json={}, headers=ext) as r:
        assert r.status == 401
    assert (await probe_backend(http, addr))[1] is None  # a refused caller is not the extension
    async with http.post(f"http://127.0.0.1:{srv.port}/v1/policy", json={},
                         headers={**ext, "X-Postguard-Token": TOKEN}) as r:
        assert r.status == 200
    up, seen = await probe_backend(http, addr)
    assert up is True and seen and seen.endswith("Z")
    assert await probe_backend(http, closed_port()) == (False, None)


async def test_a_heartbeat_reports_health_and_the_server_keeps_it(enrolled: Enrolled, server: Running,
                                                                  http: aiohttp.ClientSession, capsys: Any) -> None:
    e = enrolled
    e.fill(3)
    srv = await asyncio.start_server(lambda r, w: w.close(), "127.0.0.1", 0)
    proxy = srv.sockets[0].getsockname()[:2]
    hb = Heartbeat(e.api, e.queue, http, Components(proxy=proxy, backend=closed_port()), version="0.1.0",
                   policy_digest=server.cfg.policy.digest, queue_limit=10, interval=300)
    try:
        assert await hb.beat() is True
    finally:
        srv.close()
        await srv.wait_closed()
    sent = hb.state.sent
    assert (sent["last_seq"], sent["queue_depth"], sent["queue_limit"], sent["proxy_up"], sent["backend_up"]) == (
        3, 3, 10, True, False)
    assert len(sent["head_hash"]) == 64 and sent["clock"].endswith("Z")
    assert hb.state.interval == 60  # as the server says
    d = server.query("SELECT last_seq, head_hash, proxy_up, backend_up, queue_depth, policy_digest, agent_version "
                     "FROM devices WHERE id = ?", (e.id,))[0]
    assert (d["last_seq"], d["head_hash"], d["queue_depth"], d["agent_version"]) == (3, sent["head_hash"], 3, "0.1.0")
    assert not d["backend_up"] and d["proxy_up"]
    capsys.readouterr()
    assert main(["devices", "problems", "--db", server.cfg.db, "--json"]) == 1
    import json

    kinds = {p["kind"] for p in json.loads(capsys.readouterr().out)["problems"] if p["device"] == e.id}
    assert kinds == {"backend-down"}  # 3 of 10 is below the 80% alarm; the policy is current


async def test_no_components_means_unknown_not_down(enrolled: Enrolled, server: Running,
                                                    http: aiohttp.ClientSession) -> None:
    hb = Heartbeat(enrolled.api, enrolled.queue, http, Components(), version="t", policy_digest="x",
                   queue_limit=10)
    body = await hb.fields()
    assert body["proxy_up"] is None and body["backend_up"] is None and body["last_seq"] == 0
    assert body["head_hash"] is None


async def test_a_revoked_device_notices(enrolled: Enrolled, server: Running, http: aiohttp.ClientSession) -> None:
    assert main(["devices", "revoke", enrolled.id, "--db", server.cfg.db]) == 0
    hb = Heartbeat(enrolled.api, enrolled.queue, http, Components(), version="t", policy_digest="x", queue_limit=10)
    assert await hb.beat() is False
    assert hb.state.revoked and "401" in (hb.state.error or "")


async def test_a_component_still_starting_is_unknown_and_asked_again_soon(enrolled: Enrolled, server: Running,
                                                                         http: aiohttp.ClientSession) -> None:
    starting = {"proxy"}
    hb = Heartbeat(enrolled.api, enrolled.queue, http,
                   Components(proxy=closed_port(), backend=closed_port(), starting=lambda n: n in starting),
                   version="t", policy_digest="x", queue_limit=10)
    body = await hb.fields()
    assert (body["proxy_up"], body["backend_up"], hb.provisional) == (None, False, True)
    starting.clear()  # its start-up grace is over: not answering now means down
    body = await hb.fields()
    assert (body["proxy_up"], hb.provisional) == (False, False)
