"""The writer under database faults other than "unreachable": nothing is lost, the thread lives."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from store import StoreConfig, open_store
from store.event import Event


def ev(text: str) -> Event:
    return Event(source="proxy", action="logged", site="www.facebook.com", kind="post", text=text,
                 policy_digest="d1", device="laptop-7", employee="e.teacher")


def spooled(path: Path) -> list[dict]:
    return [json.loads(x) for x in path.read_text().splitlines() if x.strip()] if path.exists() else []


@contextmanager
def inserts_refused(db: Path) -> Iterator[None]:
    """A trigger makes every insert into the log fail with an error that is not "database down"."""
    c = sqlite3.connect(db)
    c.execute("CREATE TRIGGER no_more BEFORE INSERT ON events BEGIN SELECT RAISE(ABORT, 'nope'); END")
    c.commit()
    try:
        yield
    finally:
        c.execute("DROP TRIGGER no_more")
        c.commit()
        c.close()


def test_overwritten_sqlite_file_spools_and_the_writer_lives(tmp_path: Path, config: StoreConfig) -> None:
    db, spool = tmp_path / "log.sqlite", tmp_path / "spool.jsonl"
    st = open_store(str(db), config, spool=spool)
    first = st.append(ev("before the file was overwritten"))
    assert st.flush() is True
    # Someone overwrites the database file in place (same inode, so the open connection sees it).
    for suffix in ("", "-wal", "-shm"):
        p = Path(str(db) + suffix)
        if p.exists():
            with open(p, "r+b") as f:
                f.write(b"this is not a database at all " * 4096)
    uids = [st.append(ev(f"after {i}")) for i in range(3)]
    assert st.flush() is False          # not written: they wait in the spool
    assert st.writer.thread.is_alive()  # and the writer is still there for the next one
    assert st.writer.last_error and "DatabaseError" in st.writer.last_error
    later = st.append(ev("later still"))
    st.flush()
    st.close()
    got = [r["uid"] for r in spooled(spool)]
    assert got == [*uids, later] and first not in got


def test_a_constraint_error_spools_instead_of_killing_the_writer(tmp_path: Path, config: StoreConfig) -> None:
    db, spool = tmp_path / "log.sqlite", tmp_path / "spool.jsonl"
    with open_store(str(db), config, spool=spool) as st:
        st.append(ev("one"))
        assert st.flush()
        with inserts_refused(db):
            uid = st.append(ev("two"))
            assert st.flush() is False
            assert st.writer.thread.is_alive()
            assert [r["uid"] for r in spooled(spool)] == [uid]
        st.writer.last_try = 0.0  # no need to wait for the retry interval in a test
        assert st.flush() is True  # replayed once the database takes rows again
        assert uid in {r["uid"] for r in st.read(lambda c: c.all("SELECT uid FROM events"))}
    assert not spool.exists()


def test_connections_opening_a_new_file_at_once_all_get_it(tmp_path: Path) -> None:
    """Switching a fresh file to WAL needs it to itself and SQLite answers "database is locked"
    at once (no busy handler) while another connection opens it: the server's writer, console
    and pools start together, and one of them used to spool at start."""
    import threading

    from store.db import Conn, migrate

    for trial in range(10):
        path = str(tmp_path / f"fresh-{trial}.sqlite")
        errors: list[str] = []

        def open_and_migrate(path: str = path, errors: list[str] = errors) -> None:
            try:
                c = Conn(path)
                migrate(c)
                c.close()
            except Exception as e:
                errors.append(repr(e))

        threads = [threading.Thread(target=open_and_migrate) for _ in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []


def stored_uids(db: Path) -> list[str]:
    c = sqlite3.connect(db)
    try:
        return [r[0] for r in c.execute("SELECT uid FROM events ORDER BY id")]
    finally:
        c.close()


def test_an_event_is_durable_before_wait_returns_even_while_another_writer_holds_the_lock(
        tmp_path: Path, config: StoreConfig) -> None:
    import time

    db, spool = tmp_path / "log.sqlite", tmp_path / "spool.jsonl"
    st = open_store(str(db), config, spool=spool)
    try:
        assert st.submit(ev("before")).wait() == "committed"
        busy = sqlite3.connect(db, isolation_level=None)
        busy.execute("BEGIN IMMEDIATE")  # another process's purge, a long export...
        try:
            started = time.monotonic()
            first = st.submit(ev("while locked"))
            assert first.wait(timeout=0.5) == "spooled"  # by the waiting caller, fsynced
            took = time.monotonic() - started
            assert 0.4 < took < 5, took
            # The writer is stuck on the lock: the next event is spooled at once, not after the deadline.
            started = time.monotonic()
            second = st.submit(ev("still locked"))
            assert second.wait(timeout=0.5) == "spooled" and time.monotonic() - started < 0.4
            assert [r["uid"] for r in spooled(spool)] == [first.uid, second.uid]
        finally:
            busy.execute("ROLLBACK")
            busy.close()
        # The writer commits what it held meanwhile, and the spool's delivery skips what it has.
        assert st.flush() is True
        uids = stored_uids(db)
        assert uids.count(first.uid) == 1 and uids.count(second.uid) == 1 and len(uids) == 3
    finally:
        st.close()
    assert not spool.exists()


def test_waiting_for_an_event_on_an_event_loop_does_not_block_it(tmp_path: Path, config: StoreConfig) -> None:
    import asyncio

    from store.writer import durable

    db, spool = tmp_path / "log.sqlite", tmp_path / "spool.jsonl"
    st = open_store(str(db), config, spool=spool)
    ticks = 0

    async def tick() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.01)
            ticks += 1

    async def main() -> list[str]:
        t = asyncio.create_task(tick())
        try:
            return await durable([st.submit(ev("while locked"))], timeout=0.5)
        finally:
            t.cancel()

    try:
        assert st.submit(ev("before")).wait() == "committed"
        busy = sqlite3.connect(db, isolation_level=None)
        busy.execute("BEGIN IMMEDIATE")
        try:
            assert asyncio.run(main()) == ["spooled"]
        finally:
            busy.execute("ROLLBACK")
            busy.close()
        assert ticks >= 20, ticks  # the loop ran on while the event waited (0.5 s at 10 ms a tick)
        assert st.flush() is True and len(stored_uids(db)) == 2
    finally:
        st.close()


def test_main_file_overwritten_alone_its_wal_intact_events_are_spooled(
        tmp_path: Path, config: StoreConfig, caplog) -> None:
    db, spool = tmp_path / "log.sqlite", tmp_path / "spool.jsonl"
    st = open_store(str(db), config, spool=spool)
    try:
        assert st.submit(ev("before the file was overwritten")).wait() == "committed"
        with open(db, "r+b") as f:  # in place; the -wal and -shm stay as they are
            f.write(b"this is not a database at all " * 4096)
        with caplog.at_level("ERROR", logger="postguard.store"):
            after = [st.submit(ev(f"after {i}")) for i in range(3)]
            assert [p.wait() for p in after] == ["spooled"] * 3
        assert [r["uid"] for r in spooled(spool)] == [p.uid for p in after]
        assert st.writer.last_error and "overwritten" in st.writer.last_error
        assert any("interception log unavailable" in r.getMessage() and "overwritten" in r.getMessage()
                   for r in caplog.records)
        assert st.flush() is False  # they stay in the spool while the file is broken
    finally:
        st.close()


def test_main_file_moved_away_events_are_spooled_then_delivered_to_a_fresh_file(
        tmp_path: Path, config: StoreConfig) -> None:
    db, spool = tmp_path / "log.sqlite", tmp_path / "spool.jsonl"
    st = open_store(str(db), config, spool=spool)
    try:
        assert st.submit(ev("before")).wait() == "committed"
        for suffix in ("", "-wal", "-shm"):  # moved aside while open: the connection writes on into them
            Path(f"{db}{suffix}").rename(f"{db}{suffix}.old")
        p = st.submit(ev("after the move"))
        assert p.wait() == "spooled"
        assert st.writer.last_error and "moved or deleted" in st.writer.last_error
        st.writer.last_try = 0.0  # no need to wait for the retry interval in a test
        assert st.flush() is True
        assert stored_uids(db) == [p.uid]  # in the fresh file, once
    finally:
        st.close()
    assert not spool.exists()



def test_health_says_how_the_log_is_kept(tmp_path: Path, config: StoreConfig, monkeypatch) -> None:
    """writing -> spooling (the database refuses rows) -> holding (the spool cannot be written
    either) -> writing again once both take events."""
    db, spool = tmp_path / "log.sqlite", tmp_path / "spool.jsonl"
    with open_store(str(db), config, spool=spool) as st:
        st.append(ev("one"))
        assert st.flush()
        assert st.writer.health() == {"state": "writing", "spool_bytes": 0, "held": 0}
        with inserts_refused(db):
            st.append(ev("two"))
            assert st.flush() is False
            kept = st.writer.health()
            assert kept["state"] == "spooling" and kept["spool_bytes"] == spool.stat().st_size > 0
            assert kept["held"] == 0

            def disk_full(rows):
                raise OSError(28, "No space left on device")

            monkeypatch.setattr(st.writer, "_spool_write", disk_full)
            st.append(ev("three"))
            st.flush()
            assert st.writer.health()["state"] == "holding" and st.writer.health()["held"] >= 1
            monkeypatch.undo()
        st.writer.last_try = 0.0
        assert st.flush() is True
        assert st.writer.health() == {"state": "writing", "spool_bytes": 0, "held": 0}
        texts = st.read(lambda c: c.all("SELECT uid FROM events"))
        assert len(texts) == 3  # nothing lost on the way
