"""The server and three agents as separate processes, each agent in its own network namespace, on a
private PostgreSQL cluster. While events keep coming: an agent is killed with SIGKILL in the middle of
its backlog, PostgreSQL is stopped (as a crash), the server is killed and restarted, one agent's link is
cut until the server reports it silent, another agent stops cleanly and starts again. After recovery
every event any agent committed locally is on the server exactly once, each chain is whole and
`postguard logs verify` passes; a revoked agent then keeps its events and says it is refused."""

from __future__ import annotations

import json
import signal
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fleet_harness import (
    Agent,
    EventSource,
    Network,
    PrivatePostgres,
    Proc,
    Server,
    cli,
    pg_bin,
    stop_all,
    until,
)

N_AGENTS = 3
BACKLOG = 6000
UNCLEAN = "the previous run ended without a clean stop (killed, crashed or powered off)"


@dataclass
class Fleet:
    pg: PrivatePostgres
    net: Network
    server: Server
    agents: list[Agent]
    ids: list[str]
    sources: list[EventSource]


@pytest.fixture
def fleet(fleet_ok: None, tmp_path: Path) -> Iterator[Fleet]:
    bindir = pg_bin()
    assert bindir is not None
    pg = PrivatePostgres(bindir)
    net: Network | None = None
    procs: list[Proc] = []
    sources: list[EventSource] = []
    try:
        pg.start()
        net = Network(N_AGENTS)
        server = Server(pg.url, net.server_ip, tmp_path)
        procs.append(server)
        server.start_ready()
        rc, out = cli("devices", "enroll-code", "--count", str(N_AGENTS), "--db", pg.url, "--json")
        assert rc == 0, out
        codes = json.loads(out)["codes"]
        # agent 0 runs everything (proxy, backend); the others only what the test needs, to keep it fast
        extras = [(), ("--no-proxy",), ("--no-proxy", "--no-backend")]
        agents = [Agent(net.spaces[i], tmp_path / f"agent{i}", *extras[i]) for i in range(N_AGENTS)]
        procs += agents
        ids = [a.enroll(server.url, codes[i], f"pc-lab-{i + 1}") for i, a in enumerate(agents)]
        sources = [EventSource(a.state / "queue.sqlite", ids[i]) for i, a in enumerate(agents)]
        yield Fleet(pg, net, server, agents, ids, sources)
    finally:
        for s in sources:
            s.close()
        stop_all(procs)
        if net is not None:
            net.close()
        pg.close()


def server_uids(f: Fleet, device: str) -> list[str]:
    return [r["uid"] for r in f.server.query("SELECT uid FROM events WHERE device = ? ORDER BY seq", (device,))]


def agent_events(f: Fleet, device: str) -> list[tuple[str, str | None]]:
    return [(r["kind"], r["error"]) for r in f.server.query(
        "SELECT kind, error FROM events WHERE device = ? AND source = 'agent' ORDER BY seq", (device,))]


def problems(f: Fleet) -> list[dict[str, Any]]:
    rc, out = cli("devices", "problems", "--db", f.pg.url, "--json")
    assert rc in (0, 1), out
    return list(json.loads(out)["problems"])


def diagnose(f: Fleet) -> str:
    return "\n".join([f"server:\n{f.server.tail(15)}"] + [f"agent {i}:\n{a.tail(15)}" for i, a in enumerate(f.agents)])


@pytest.mark.slow
def test_fleet_survives_kills_outages_and_a_cut_link(fleet: Fleet) -> None:
    f = fleet
    a0, a1, a2 = f.agents
    f.sources[0].burst(BACKLOG)  # agent 0 starts with a backlog (written while it was not running)
    for a in f.agents:
        a.start()
    for s in f.sources:
        s.start()
    # 1. SIGKILL agent 0 in the middle of its backlog, then start it again.
    until(lambda: len(server_uids(f, f.ids[0])) >= 500, 60, "agent 0's first uploads")
    a0.signal(signal.SIGKILL)
    a0.wait(10)
    on_server, waiting = len(server_uids(f, f.ids[0])), a0.waiting(f.ids[0])
    assert on_server < BACKLOG and waiting > 0, (on_server, waiting)  # it was killed mid-backlog
    a0.start()

    def health() -> set[tuple[str, Any, Any]]:
        return {(h["id"], h["proxy_up"], h["backend_up"]) for h in f.server.query(
            "SELECT id, proxy_up, backend_up FROM devices WHERE heartbeat_at IS NOT NULL")}

    until(lambda: health() == {(f.ids[0], 1, 1), (f.ids[1], None, 1), (f.ids[2], None, None)}, 60,
          "heartbeats (agent 0 restarted) with the proxy and backends up\n" + diagnose(f))

    # 2. PostgreSQL goes away as in a crash: the server answers 503 and the agents wait.
    f.pg.stop("immediate")
    until(lambda: any("503" in str((a.status().get("forwarder") or {}).get("error")) for a in f.agents), 20,
          "an agent told 503 while the database is down\n" + diagnose(f))
    time.sleep(2)
    f.pg.start()

    # 3. The server is killed; while it is down agent 2's link is cut, and stays cut until the
    #    server reports agent 2 silent (three heartbeat intervals of 5 s).
    f.server.signal(signal.SIGKILL)
    f.server.wait(10)
    f.net.cut(2)
    time.sleep(3)
    f.server.start_ready()
    until(lambda: any(p["device"] == f.ids[2] and p["kind"] == "silent" for p in problems(f)), 40,
          "agent 2 reported silent")
    assert a2.waiting(f.ids[2]) > 0  # its events wait on the device while the link is down
    f.net.mend(2)

    # 4. Agent 1 stops cleanly and starts again.
    a1.signal(signal.SIGTERM)
    assert a1.wait(30) == 0, a1.tail()
    a1.start()

    # Recovery: the sources stop, everything drains, nothing is lost or doubled.
    for s in f.sources:
        s.stop()
    until(lambda: all(a.waiting(f.ids[i]) == 0 for i, a in enumerate(f.agents)), 60,
          "every queue to drain\n" + diagnose(f))
    for i in range(N_AGENTS):
        got = server_uids(f, f.ids[i])
        assert len(got) == len(set(got)), f"agent {i}: an event stored twice"
        assert set(f.sources[i].acknowledged) <= set(got), f"agent {i}: committed events missing on the server"
        assert len(got) == len(f.sources[i].uids) + len(agent_events(f, f.ids[i]))
        seqs = [r["seq"] for r in f.server.query("SELECT seq FROM events WHERE device = ? ORDER BY seq",
                                                 (f.ids[i],))]
        assert seqs == list(range(1, len(seqs) + 1))
    assert agent_events(f, f.ids[0]) == [("agent-start", None), ("agent-start", UNCLEAN)]
    assert agent_events(f, f.ids[1]) == [("agent-start", None), ("agent-stop", None), ("agent-start", None)]
    rc, out = cli("logs", "verify", "--db", f.pg.url)
    assert rc == 0 and "every chain intact" in out, out
    until(lambda: not [p for p in problems(f) if p["device"] in f.ids], 30, "the fleet's problems to clear")

    # A revoked device is refused; what it logs afterwards stays on it.
    rc, out = cli("devices", "revoke", f.ids[1], "--db", f.pg.url)
    assert rc == 0, out
    f.sources[1].burst(3)
    until(lambda: (a1.status().get("forwarder") or {}).get("refused") == "revoked", 20, "agent 1 refused")
    assert a1.waiting(f.ids[1]) == 3
    rc, out = cli("agent", "status", "--state", str(a1.state), "--json")
    assert rc == 1 and any("refuses this device" in x for x in json.loads(out)["alarms"]), out
