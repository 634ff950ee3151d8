"""SIGKILL under load: `postguard backend` (the extension's) and `postguard proxy`, each a
separate process, killed while clients post; after a restart on the same log every event the
service acknowledged (the backend's 201 with its id; the proxy's answer to a post) must be there,
and `postguard logs verify` must pass."""

from __future__ import annotations

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

import pytest
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
        body = json.dumps({"choice": "edited", "text": f"Great game tonight, go team! #{i}", "site": "x.com"})
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


def load(backend: Backend, seconds: float, clients: int = 4) -> list[str]:
    """Ids acknowledged by `clients` threads posting for `seconds`."""
    acked: list[str] = []
    end = time.monotonic() + seconds

    def run(c: int) -> None:
        i = 0
        while time.monotonic() < end:
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
    # What holds today under load: no torn write (the chain verifies), nothing stored twice or
    # unasked, and the restarted backend takes events at once. That every acknowledged event
    # survives does not hold (a few of the last ones can be lost): the next test shows it.
    db = tmp_path / "log.sqlite"
    backend = Backend(db)
    killer = threading.Timer(2.5, backend.kill)
    killer.start()
    try:
        acked = load(backend, 3.5)
    finally:
        killer.join()
    assert len(acked) > 20 and backend.proc.returncode == -signal.SIGKILL
    again = Backend(db)  # the restart replays what the first one spooled
    try:
        probe = again.event(-1)
        assert probe and proxy.wait_for(lambda: probe in {e["uid"] for e in stored(str(db))}, 20)
    finally:
        again.kill()
    uids = [e["uid"] for e in stored(str(db))]
    assert len(uids) == len(set(uids)) and set(uids) <= {*acked, probe}
    v = verify(str(db))
    assert v.returncode == 0, v.stdout + v.stderr


@pytest.mark.xfail(strict=True, reason="the backend acknowledges (201 + id) before the event is written or "
                   "spooled (store.Store.append queues it for the writer thread; extension/backend/app.py answers "
                   "at once): killed while the log is busy, the acknowledged events are lost; under plain load "
                   "a few of the last acknowledged ones are lost the same way (seen in 1 run of 2)")
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
    again = Backend(db)
    again.kill()
    missing = set(acked) - {e["uid"] for e in stored(str(db))}
    assert not missing, f"{len(missing)} of {len(acked)} acknowledged events lost"


@pytest.mark.xfail(strict=True, reason="the proxy answers a post before its event is written or spooled "
                   "(proxy_addon/eventlog.py record -> store.Store.append queues it): killed while the log is busy, "
                   "the events of posts it answered (blocked or passed) are lost")
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
