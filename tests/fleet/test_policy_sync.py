"""Signed policy updates end to end, each part a separate process on loopback: `postguard server` on
PostgreSQL, `postguard policy publish`, and an enrolled `postguard agent run` with its extension
backend. The agent pins the server's key at enrolment, installs each published bundle (the
backend flags a post that was clean once a new word is published, without a restart), gets 304
when nothing changed, and refuses a bundle tampered in the database and one signed by another
key: the last good policy stays, `policy-refused` events reach the server, and the heartbeat
makes the server's device problem say why."""

from __future__ import annotations

import base64
import json
import signal
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fleet_harness import PY, Proc, Server, cli, free_port, until
from policy_harness import FLAGGED_TEXT, with_new_word

from agent.client import signature_headers
from agent.state import StateDir
from checker import DEFAULT_POLICY_DIR, load_policy
from extension.backend import EXTENSION_ID, TOKEN_HEADER
from server.checkpoint import load_or_create_key
from store.db import Conn


class LocalAgent(Proc):
    """`postguard agent run` on loopback: no proxy, its backend on a free port, fetching every second."""

    def __init__(self, state: Path) -> None:
        self.state, self.backend_port = state, free_port()
        super().__init__([*PY, "agent", "run", "--state", str(state), "--no-proxy", "--backend-listen",
                          f"127.0.0.1:{self.backend_port}", "--policy-every", "1", "--max-backoff", "2"],
                         state.parent / "agent.log", state.parent)

    def policy(self) -> dict[str, Any]:
        try:
            return json.loads((self.state / "status.json").read_text())["policy"] or {}
        except (OSError, ValueError, KeyError):
            return {}

    def check(self, text: str) -> set[str]:
        """The rules the agent's backend finds in a personal post."""
        port = self.backend_port
        req = urllib.request.Request(
            f"http://127.0.0.1:{port}/v1/check", method="POST",
            data=json.dumps({"text": text, "site": "www.facebook.com"}).encode(),
            headers={"Content-Type": "application/json", "Origin": f"chrome-extension://{EXTENSION_ID}",
                     TOKEN_HEADER: (self.state / "backend.token").read_text().strip()})
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                return {f["rule"] for f in json.loads(r.read())["findings"]}
        except OSError:
            return {"unreachable"}


@pytest.fixture
def setup(pg_url: str, tmp_path: Path) -> Iterator[tuple[Server, LocalAgent, str]]:
    server = Server(pg_url, "127.0.0.1", tmp_path, interval=5)
    agent = LocalAgent(tmp_path / "agent")
    agent.state.mkdir()
    try:
        server.start_ready()
        rc, out = cli("devices", "enroll-code", "--db", pg_url, "--json")
        assert rc == 0, out
        rc, out = cli("agent", "enroll", server.url, json.loads(out)["codes"][0], "--state", str(agent.state),
                      "--hostname", "pc-policy-1", "--json")
        assert rc == 0, out
        yield server, agent, json.loads(out)["device_id"]
    finally:
        agent.signal(signal.SIGTERM)
        server.signal(signal.SIGTERM)
        for p in (agent, server):
            try:
                p.wait(30)
            except Exception:
                p.kill()


def publish(server: Server, folder: Path, key: Path) -> dict[str, Any]:
    rc, out = cli("policy", "publish", str(folder), "--db", server.db, "--signing-key", str(key), "--json")
    assert rc == 0, out
    return dict(json.loads(out.splitlines()[-1]))


def get_policy(server: Server, state: Path, etag: str | None) -> tuple[int, str | None]:
    """A signed GET /api/v1/policy as the device (If-None-Match when `etag`): status and ETag."""
    st = StateDir(state)
    d = st.load_device()
    headers = signature_headers(st.load_key(), d.device_id, "GET", "/api/v1/policy", b"", time.time())
    if etag:
        headers["If-None-Match"] = etag
    try:
        with urllib.request.urlopen(urllib.request.Request(server.url + "/api/v1/policy", headers=headers),
                                    timeout=30) as r:
            return r.status, r.headers.get("ETag")
    except urllib.error.HTTPError as e:
        return e.code, e.headers.get("ETag")


def _row(db: str) -> dict[str, Any]:
    c = Conn(db)
    try:
        return dict(c.all("SELECT * FROM policy_bundles")[0])
    finally:
        c.close()


def test_signed_policy_updates_end_to_end(setup, tmp_path: Path) -> None:
    server, agent, device = setup
    key = tmp_path / "signing.key"
    pinned = StateDir(agent.state).load_device().server_key
    assert pinned and pinned == Path(f"{key}.pub").read_text().strip()
    assert get_policy(server, agent.state, None)[0] == 404  # nothing published yet

    v1 = publish(server, DEFAULT_POLICY_DIR, key)
    status, etag = get_policy(server, agent.state, None)
    assert status == 200 and etag and get_policy(server, agent.state, etag) == (304, etag)

    agent.start()
    until(lambda: agent.policy().get("version") == 1, 90, f"version 1 installed\n{agent.tail()}")
    current = agent.state / "policy" / "current"
    assert current.is_symlink() and load_policy(current, checks=False).digest == v1["policy_digest"]
    until(lambda: agent.check("Bake sale at noon") == set(), 60, f"the backend answering\n{agent.tail()}")
    assert agent.check(FLAGGED_TEXT) == set()

    v2 = publish(server, with_new_word(tmp_path / "v2"), key)
    until(lambda: agent.policy().get("version") == 2, 90, f"version 2 installed\n{agent.tail()}")
    until(lambda: agent.check(FLAGGED_TEXT) == {"conduct"}, 60, "the backend on version 2")
    until(lambda: server.query("SELECT policy_digest FROM devices WHERE id = ?", (device,))[0]["policy_digest"]
          == v2["policy_digest"], 30, "the heartbeat reporting version 2")
    rc, out = cli("devices", "list", "--db", server.db, "--json")
    assert rc == 0 and json.loads(out.splitlines()[0])["policy_status"] == "current", out

    # tampered after signing (a row signed in a scratch database, its bytes changed, then served)
    scratch = str(tmp_path / "scratch.sqlite")
    rc, out = cli("policy", "publish", str(with_new_word(tmp_path / "v3", "quargle")), "--db", scratch,
                  "--signing-key", str(key), "--json")  # fictional words
    assert rc == 0, out
    row = _row(scratch)
    raw = bytearray(base64.b64decode(row["bundle"]))
    raw[len(raw) // 2] ^= 0xFF
    row.update(version=3, bundle=base64.b64encode(bytes(raw)).decode())
    server.query(f"INSERT INTO policy_bundles ({', '.join(row)}) VALUES ({', '.join('?' * len(row))}) "
                 "RETURNING version", tuple(row.values()))
    until(lambda: "tampered" in (agent.policy().get("refused") or ""), 60, f"the refusal\n{agent.tail()}")
    # signed by a key the device did not pin: refused
    rogue = tmp_path / "rogue.key"
    load_or_create_key(rogue)
    publish(server, with_new_word(tmp_path / "v4", "snerk"), rogue)
    until(lambda: "bad signature" in (agent.policy().get("refused") or ""), 60, f"the second refusal\n{agent.tail()}")
    assert agent.policy()["version"] == 2 and agent.check(FLAGGED_TEXT) == {"conduct"}
    assert load_policy(current, checks=False).digest == v2["policy_digest"]

    def kinds() -> list[tuple[str, str | None]]:
        return [(r["kind"], r["error"]) for r in server.query(
            "SELECT kind, error FROM events WHERE device = ? AND kind IN ('policy-updated', 'policy-refused') ORDER BY seq", (device,))]

    until(lambda: len(kinds()) >= 4, 60, "the policy events on the server")
    got = kinds()
    assert [k for k, _ in got[:2]] == ["policy-updated", "policy-updated"]
    assert got[2][0] == "policy-refused" and "tampered" in (got[2][1] or "")
    assert got[3][0] == "policy-refused" and "bad signature" in (got[3][1] or "")
    until(lambda: any("refused the bundle: bad signature" in (p["detail"] or "") for p in server.query(
        "SELECT detail FROM device_problems WHERE device = ? AND kind = 'policy' AND resolved IS NULL", (device,))),
        30, "the server's policy problem naming the refusal")
