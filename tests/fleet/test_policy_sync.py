"""Signed policy updates end to end, each part a separate process on loopback: `postguard server` on
PostgreSQL, `postguard policy publish`, and an enrolled `postguard agent run` with its extension
backend. The agent pins the server's key at enrolment, installs each published bundle (the
backend flags a post that was clean once a new word is published, without a restart), gets 304
when nothing changed, and refuses a bundle tampered after signing, one signed by another key and
an older signed one served again (a rollback): the last good policy stays, `policy-refused`
events reach the server, and the heartbeat makes the server's device problem say why."""

from __future__ import annotations

import base64
import json
import signal
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fleet_harness import PY, Proc, Server, cli, free_port, until
from policy_harness import FLAGGED_TEXT, helpers, proxy_harness, tweet, with_new_word

from agent.client import signature_headers
from agent.state import StateDir
from checker import DEFAULT_POLICY_DIR, load_policy
from extension.backend import EXTENSION_ID, TOKEN_HEADER
from server.checkpoint import load_or_create_key
from store.db import Conn


class LocalAgent(Proc):
    """`postguard agent run` on loopback, fetching every second: its backend on a free port and no
    proxy, or with `proxy_sets` its proxy on a free port (those `--set` options) and no backend."""

    def __init__(self, state: Path, proxy_sets: list[str] | None = None) -> None:
        self.state, self.backend_port, self.proxy_port = state, free_port(), free_port()
        parts = (["--no-proxy", "--backend-listen", f"127.0.0.1:{self.backend_port}"] if proxy_sets is None else
                 ["--no-backend", "--proxy-listen", f"127.0.0.1:{self.proxy_port}",
                  *(a for v in proxy_sets for a in ("--set", v))])
        super().__init__([*PY, "agent", "run", "--state", str(state), *parts, "--policy-every", "1",
                          "--max-backoff", "2"], state.parent / f"{state.name}.log", state.parent)

    def status(self) -> dict[str, Any]:
        try:
            return dict(json.loads((self.state / "status.json").read_text()))
        except (OSError, ValueError):
            return {}

    def policy(self) -> dict[str, Any]:
        return dict(self.status().get("policy") or {})

    def check(self, text: str) -> set[str]:
        """The rules the agent's backend finds in a personal post."""
        try:
            req = urllib.request.Request(
                f"http://127.0.0.1:{self.backend_port}/v1/check", method="POST",
                data=json.dumps({"text": text, "site": "www.facebook.com"}).encode(),
                headers={"Content-Type": "application/json", "Origin": f"chrome-extension://{EXTENSION_ID}",
                         TOKEN_HEADER: (self.state / "backend.token").read_text().strip()})
            with urllib.request.urlopen(req, timeout=30) as r:
                return {f["rule"] for f in json.loads(r.read())["findings"]}
        except OSError:  # not started yet (no token file, or not listening)
            return {"unreachable"}


@dataclass
class Setup:
    server: Server
    agents: list[LocalAgent]

    def enrolled(self, name: str, proxy_sets: list[str] | None = None) -> tuple[LocalAgent, str]:
        """An agent enrolled with the server (not started yet) and its device id."""
        agent = LocalAgent(self.server.cwd / name, proxy_sets)
        agent.state.mkdir()
        self.agents.append(agent)
        rc, out = cli("devices", "enroll-code", "--db", self.server.db, "--json")
        assert rc == 0, out
        rc, out = cli("agent", "enroll", self.server.url, json.loads(out)["codes"][0], "--state", str(agent.state),
                      "--hostname", f"pc-{name}", "--json")
        assert rc == 0, out
        return agent, str(json.loads(out)["device_id"])


@pytest.fixture
def setup(pg_url: str, tmp_path: Path) -> Iterator[Setup]:
    server = Server(pg_url, "127.0.0.1", tmp_path, interval=5)
    got = Setup(server, [])
    try:
        server.start_ready()
        yield got
    finally:
        for p in [*got.agents, server]:
            p.signal(signal.SIGTERM)
        for p in [*got.agents, server]:
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


def test_signed_policy_updates_end_to_end(setup: Setup, tmp_path: Path) -> None:
    server = setup.server
    agent, device = setup.enrolled("agent")
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
    rc, out = cli("agent", "status", "--state", str(agent.state))
    assert "policy      signed version 2" in out and "ALARM       policy bundle refused, version 2 stays: bad signature" in out, out
    assert load_policy(current, checks=False).digest == v2["policy_digest"]

    # an older signed bundle served again as the newest (a replay): refused as a rollback
    old = server.query("SELECT * FROM policy_bundles WHERE version = 1")[0]
    old.update(version=5)
    server.query(f"INSERT INTO policy_bundles ({', '.join(old)}) VALUES ({', '.join('?' * len(old))}) "
                 "RETURNING version", tuple(old.values()))
    until(lambda: "rollback" in (agent.policy().get("refused") or ""), 60, f"the third refusal\n{agent.tail()}")
    assert agent.policy()["version"] == 2 and agent.check(FLAGGED_TEXT) == {"conduct"}

    def kinds() -> list[tuple[str, str | None]]:
        return [(r["kind"], r["error"]) for r in server.query(
            "SELECT kind, error FROM events WHERE device = ? AND kind IN ('policy-updated', 'policy-refused') ORDER BY seq", (device,))]

    until(lambda: len(kinds()) >= 5, 60, "the policy events on the server")
    got = kinds()
    assert [k for k, _ in got[:2]] == ["policy-updated", "policy-updated"]
    assert got[2][0] == "policy-refused" and "tampered" in (got[2][1] or "")
    assert got[3][0] == "policy-refused" and "bad signature" in (got[3][1] or "")
    assert got[4][0] == "policy-refused" and "rollback: version 1" in (got[4][1] or "")
    until(lambda: any("refused the bundle: rollback" in (p["detail"] or "") for p in server.query(
        "SELECT detail FROM device_problems WHERE device = ? AND kind = 'policy' AND resolved IS NULL", (device,))),
        30, "the server's policy problem naming the refusal")


def test_a_published_phrase_reaches_the_running_proxy(setup: Setup, tmp_path: Path) -> None:
    """The whole chain: publish -> the agent installs it -> its proxy (not restarted) stops a post
    that it forwarded before."""
    server, harness = setup.server, proxy_harness()
    upstream_ca, cert, keyfile = harness.make_ca_and_upstream_cert(_mkdir(tmp_path / "upstream-ca"), ["api.twitter.com"])
    upstream = harness.Upstream(cert, keyfile)
    # upstream mode behind a CONNECT forwarder to the local site: the proxy still sees the host
    # name the client asked for (a leaf with the site's IP would break the CA's name constraints)
    forwarder = helpers("agent", "ca_helpers").Forwarder(upstream.port)
    try:
        sets = [f"mode=upstream:http://127.0.0.1:{forwarder.port}", f"ssl_verify_upstream_trusted_ca={upstream_ca}"]
        agent, _device = setup.enrolled("proxy-agent", sets)
        publish(server, DEFAULT_POLICY_DIR, tmp_path / "signing.key")
        agent.start()
        until(lambda: agent.policy().get("version") == 1, 90, f"version 1 installed\n{agent.tail()}")
        device_ca = agent.state / "mitmproxy" / "mitmproxy-ca-cert.pem"

        failures: list[str] = []

        def status() -> int:
            try:
                return int(tweet(harness, agent.proxy_port, device_ca, FLAGGED_TEXT))
            except OSError as e:
                failures.append(repr(e))
                return 0

        try:
            until(lambda: status() == 200, 120, "the proxy forwarding the post")
        except AssertionError as e:
            raise AssertionError(f"{e}\n{agent.tail()}\n{failures[-1:]}") from None
        pid = agent.status()["components"]["proxy"]["pid"]
        publish(server, with_new_word(tmp_path / "v2"), tmp_path / "signing.key")
        until(lambda: agent.policy().get("version") == 2, 90, f"version 2 installed\n{agent.tail()}")
        until(lambda: status() == 403, 120, f"the proxy stopping the post\n{agent.tail()}")
        assert agent.status()["components"]["proxy"]["pid"] == pid  # the same proxy process
        reached = len(upstream.bodies_to("/2/tweets"))
        assert status() == 403 and len(upstream.bodies_to("/2/tweets")) == reached  # stopped: never sent on
    finally:
        forwarder.stop()
        upstream.stop()


def _mkdir(p: Path) -> Path:
    p.mkdir(parents=True)
    return p
