"""The interception log failing under a live `postguard proxy` (a separate process, real
mitmproxy): PostgreSQL unreachable (a relay in front of it cut, then restored), the SQLite file
overwritten with junk, the disk full (the proxy's file-size limit). Posts are answered as usual
meanwhile; the events are kept in the local spool and delivered when the database is back, none
lost, and `postguard logs verify` passes."""

from __future__ import annotations

import json
import resource
import signal
import subprocess
import sys
import tempfile
from functools import cache
from pathlib import Path
from urllib.parse import urlsplit

from faults_helpers import Relay, proxy

from checker import load_policy
from enforce import log_config
from store import StoreConfig, open_store
from store.store import default_spool

POSTING = "https://oauth.reddit.com/api/comment"
CLEAN, PRIVACY = "Great game tonight, go team!", "Mason Brandt was suspended for three days."  # fictional


def post(lv, text: str, i: int) -> int:
    body = json.dumps({"thing_id": f"t3_{i}", "text": f"{text} #{i}"}).encode()
    return proxy.https_via(lv.port, lv.ca, "POST", POSTING, body, {"content-type": "application/json"})[0]


def posts(lv, start: int, n: int) -> list[int]:
    return [post(lv, PRIVACY if i % 2 else CLEAN, i) for i in range(start, start + n)]


@cache
def _config() -> StoreConfig:
    return log_config(load_policy(None))


def stored(db: str) -> list[dict]:
    """The events in `db` as they are (this reader's own empty spool: it replays nothing)."""
    spool = Path(tempfile.mkdtemp(prefix="pg-faults-reader-")) / "spool.jsonl"
    st = open_store(db, _config(), spool=spool, auto_purge=False)
    try:
        return list(st.iter_events())
    finally:
        st.close()


def count(db: str) -> int:
    try:
        return len(stored(db))
    except Exception:
        return -1


def spooled(spool: Path) -> int:
    return len(spool.read_text(encoding="utf-8").splitlines()) if spool.exists() else 0


def verify(db: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(Path(sys.executable).with_name("postguard")), "logs", "verify", "--db", db],
                          capture_output=True, text=True, timeout=60)


def test_postgres_unreachable_then_back_nothing_lost(live_with, pg_url):
    u = urlsplit(pg_url)
    relay = Relay((u.hostname or "127.0.0.1", u.port or 5432))
    db = pg_url.replace(f"{u.hostname}:{u.port}", f"127.0.0.1:{relay.port}")
    try:
        lv = live_with(db=db, extra_sets=("postguard_log_passed=true",))
        assert posts(lv, 0, 4) == [200, 403, 200, 403]
        assert proxy.wait_for(lambda: count(pg_url) == 4, 20)
        relay.cut()
        assert posts(lv, 4, 6) == [200, 403] * 3  # answered as usual while the log is away
        spool = proxy.ROOT / default_spool(db)
        assert proxy.wait_for(lambda: spooled(spool) == 6, 20) and count(pg_url) == 4
        relay.restore()
        assert proxy.wait_for(lambda: count(pg_url) == 10, 40), count(pg_url)
        assert not spool.exists()
    finally:
        relay.cut()
    evs = stored(pg_url)
    assert sorted(e["action"] for e in evs) == ["blocked"] * 5 + ["passed"] * 5
    assert len({e["seq"] for e in evs}) == 10
    v = verify(pg_url)
    assert v.returncode == 0, v.stdout + v.stderr


def _overwrite(path: str) -> None:
    if Path(path).exists():
        with open(path, "r+b") as f:  # in place: the proxy's open connection sees it
            f.write(b"this is not a database " * 4096)


def test_sqlite_file_overwritten_events_spooled_then_delivered_to_a_fresh_file(live_with):
    lv = live_with(extra_sets=("postguard_log_passed=true",))
    db = str(lv.db)
    assert posts(lv, 0, 2) == [200, 403] and proxy.wait_for(lambda: count(db) == 2, 20)
    for suffix in ("", "-wal", "-shm"):
        _overwrite(db + suffix)
    assert posts(lv, 2, 4) == [200, 403, 200, 403]
    spool = Path(db + ".spool.jsonl")
    assert proxy.wait_for(lambda: spooled(spool) == 4, 20), "".join(lv.proxy.lines[-20:])
    assert any("interception log unavailable" in line for line in lv.proxy.lines)
    for suffix in ("", "-wal", "-shm"):  # the operator moves the broken file aside
        if Path(db + suffix).exists():
            Path(db + suffix).rename(db + suffix + ".broken")
    assert proxy.wait_for(lambda: count(db) == 4, 40), count(db)
    assert sorted(e["action"] for e in stored(db)) == ["blocked", "blocked", "passed", "passed"]
    assert not spool.exists()
    v = verify(db)
    assert v.returncode == 0, v.stdout + v.stderr


def test_sqlite_main_file_overwritten_alone_events_still_spooled(live_with):
    lv = live_with(extra_sets=("postguard_log_passed=true",))
    db = str(lv.db)
    assert posts(lv, 0, 2) == [200, 403] and proxy.wait_for(lambda: count(db) == 2, 20)
    _overwrite(db)
    assert posts(lv, 2, 4) == [200, 403, 200, 403]
    assert proxy.wait_for(lambda: spooled(Path(db + ".spool.jsonl")) == 4, 8), "not spooled: lost with the file"


def _file_size_limit(limit: int):
    def preexec() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails (EFBIG), no kill
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    return preexec


def test_disk_full_events_spooled_then_delivered_after_restart(live_with, monkeypatch):
    first = live_with(extra_sets=("postguard_log_passed=true",))
    db = str(first.db)
    assert posts(first, 0, 2) == [200, 403] and proxy.wait_for(lambda: count(db) == 2, 20)
    live_with.stop(first)
    orig = subprocess.Popen
    with monkeypatch.context() as m:  # the next proxy may write no file past 16 KB: the disk is full
        m.setattr(subprocess, "Popen", lambda *a, **kw: orig(*a, **kw, preexec_fn=_file_size_limit(16 * 1024)))
        full = live_with(db=db, extra_sets=("postguard_log_passed=true",))
    assert posts(full, 2, 4) == [200, 403, 200, 403]  # answered as usual
    spool = Path(db + ".spool.jsonl")
    assert proxy.wait_for(lambda: spooled(spool) > 0, 20), "".join(full.proxy.lines[-20:])
    live_with.stop(full)
    assert 0 <= count(db) < 6
    again = live_with(db=db, extra_sets=("postguard_log_passed=true",))
    assert proxy.wait_for(lambda: count(db) == 6, 40), count(db)
    assert sorted(e["action"] for e in stored(db)) == ["blocked"] * 3 + ["passed"] * 3
    assert posts(again, 6, 1) == [200] and proxy.wait_for(lambda: count(db) == 7, 20)
    v = verify(db)
    assert v.returncode == 0, v.stdout + v.stderr
