"""The writer under database faults other than "unreachable": nothing is lost, the thread lives."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from store import StoreConfig, open_store
from store.event import Event


def ev(text: str) -> Event:
    return Event(source="proxy", action="logged", site="www.facebook.com", kind="post", text=text,
                 policy_digest="d1", device="laptop-7", employee="e.teacher")


def spooled(path: Path) -> list[dict]:
    return [json.loads(x) for x in path.read_text().splitlines() if x.strip()] if path.exists() else []


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
        # A trigger that makes every insert fail with an error that is not "database down".
        c = sqlite3.connect(db)
        c.execute("CREATE TRIGGER no_more BEFORE INSERT ON events BEGIN SELECT RAISE(ABORT, 'nope'); END")
        c.commit()
        c.close()
        uid = st.append(ev("two"))
        assert st.flush() is False
        assert st.writer.thread.is_alive()
        assert [r["uid"] for r in spooled(spool)] == [uid]
        c = sqlite3.connect(db)
        c.execute("DROP TRIGGER no_more")
        c.commit()
        c.close()
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
