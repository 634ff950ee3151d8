"""SIGKILL under load: `postguard backend` (the extension's) and `postguard proxy`, each a
separate process, killed while clients post; after a restart on the same log every event the
service acknowledged (the backend's 201 with its id; the proxy's answer to a post) must be there,
and `postguard logs verify` must pass."""

from __future__ import annotations

import hashlib
import json
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

from faults_helpers import proxy
from test_db_faults import posts, stored, verify

from extension.backend import EXTENSION_ID, TOKEN_HEADER

TOKEN = "fault-test-token-0123456789"
HEADERS = {"Origin": f"chrome-extension://{EXTENSION_ID}", TOKEN_HEADER: TOKEN, "Content-Type": "application/json"}


class Backend:
    """`postguard backend` on a free loopback port, logging to `db`."""

    def __init__(self, db: Path) -> None:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.proc = subprocess.Popen(
            [str(Path(sys.executable).with_name("postguard")), "backend", "--listen", f"127.0.0.1:{self.port}",
             "--db", str(db), "--token", TOKEN], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        assert proxy.wait_for(self._up, 60), "the backend did not start"

    def _up(self) -> bool:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/healthz", timeout=1):
                return True
        except (urllib.error.URLError, ConnectionError):
            return False

    def event(self, i: int) -> str | None:
        """Post one choice event; its id when acknowledged (201), else None."""
        body = json.dumps({"choice": "edited", "text": text(i), "site": "x.com"})
        req = urllib.request.Request(f"http://127.0.0.1:{self.port}/v1/events", data=body.encode(),
                                     headers=HEADERS, method="POST")
        try:
            with urllib.request.urlopen(req, timeout=10) as r:
                return json.load(r)["ids"][0] if r.status == 201 else None
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            return None

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)


def text(i: int) -> str:
    return f"Great game tonight, go team! #{i}"


def load(backend: Backend, seconds: float, clients: int = 4, sent: list[int] | None = None) -> list[str]:
    """Ids acknowledged by `clients` threads posting for `seconds` (every post's number in `sent`)."""
    acked: list[str] = []
    end = time.monotonic() + seconds

    def run(c: int) -> None:
        i = 0
        while time.monotonic() < end:
            if sent is not None:
                sent.append(c * 100_000 + i)
            if (uid := backend.event(c * 100_000 + i)) is not None:
                acked.append(uid)
            i += 1
    threads = [threading.Thread(target=run, args=(c,)) for c in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return acked


def test_backend_killed_under_load_restarts_with_a_log_that_verifies(tmp_path):
    # Under load: every acknowledged event survives, no torn write (the chain verifies), nothing
    # stored twice or unasked (a post killed after its commit but before its answer may be
    # stored unacknowledged), and the restarted backend takes events at once.
    db = tmp_path / "log.sqlite"
    backend = Backend(db)
    killer = threading.Timer(2.5, backend.kill)
    killer.start()
    sent: list[int] = []
    try:
        acked = load(backend, 3.5, sent=sent)
    finally:
        killer.join()
    assert len(acked) > 20 and backend.proc.returncode == -signal.SIGKILL
    again = Backend(db)  # the restart replays what the first one spooled
    try:
        probe = again.event(-1)
        assert probe and proxy.wait_for(lambda: probe in {e["uid"] for e in stored(str(db))}, 20)
    finally:
        again.kill()
    evs = stored(str(db))
    uids, hashes = [e["uid"] for e in evs], [e["content_hash"] for e in evs]
    assert len(uids) == len(set(uids)) and len(hashes) == len(set(hashes))
    assert set(hashes) <= {hashlib.sha256(text(i).encode()).hexdigest() for i in [*sent, -1]}
    missing = set(acked) - set(uids)
    assert not missing, f"{len(missing)} of {len(acked)} acknowledged events lost"
    v = verify(str(db))
    assert v.returncode == 0, v.stdout + v.stderr


def test_backend_killed_while_the_log_is_busy_keeps_every_acknowledged_event(tmp_path):
    db = tmp_path / "log.sqlite"
    backend = Backend(db)
    assert backend.event(0)
    busy = sqlite3.connect(db, isolation_level=None)
    busy.execute("BEGIN IMMEDIATE")  # another writer holds the lock (a purge, a long export...)
    try:
        acked = [uid for i in range(1, 6) if (uid := backend.event(i))]
        backend.kill()
    finally:
        busy.execute("ROLLBACK")
        busy.close()
    assert len(acked) == 5
    again = Backend(db)  # replays the spool into the log on start: wait for it (a loaded machine is slow)
    deadline = time.monotonic() + 30
    while set(acked) - {e["uid"] for e in stored(str(db))} and time.monotonic() < deadline:
        time.sleep(0.2)
    again.kill()
    missing = set(acked) - {e["uid"] for e in stored(str(db))}
    assert not missing, f"{len(missing)} of {len(acked)} acknowledged events lost"


def test_proxy_killed_while_the_log_is_busy_keeps_the_event_of_every_answered_post(live_with):
    lv = live_with(extra_sets=("postguard_log_passed=true",))
    db = str(lv.db)
    assert posts(lv, 0, 2) == [200, 403] and proxy.wait_for(lambda: len(stored(db)) == 2, 20)
    busy = sqlite3.connect(db, isolation_level=None)
    busy.execute("BEGIN IMMEDIATE")
    try:
        assert posts(lv, 2, 4) == [200, 403, 200, 403]  # answered: the block pages were sent
        lv.proxy.proc.send_signal(signal.SIGKILL)
        lv.proxy.proc.wait(10)
    finally:
        busy.execute("ROLLBACK")
        busy.close()
    again = live_with(db=db, extra_sets=("postguard_log_passed=true",))
    assert posts(again, 6, 1) == [200] and proxy.wait_for(lambda: len(stored(db)) >= 3, 20)
    v = verify(db)
    assert v.returncode == 0, v.stdout + v.stderr
    assert len(stored(db)) == 7, f"{7 - len(stored(db))} events of answered posts lost"
