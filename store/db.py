"""Connections for the two backends (SQLite, PostgreSQL) behind one small interface."""

from __future__ import annotations

import os
import re
import sqlite3
import sys
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from store.migrations import MIGRATIONS

# Errors that mean "the database is unreachable or busy", as opposed to a bug in our SQL.
# psycopg is imported only when a PostgreSQL URL is opened (a process on SQLite, such as an
# agent's proxy, never pays for it); until then no psycopg error can occur.
_BASE_DOWN: tuple[type[BaseException], ...] = (sqlite3.OperationalError, OSError)


def db_down() -> tuple[type[BaseException], ...]:
    """The exception types that mean the database is down (for `except db_down():`)."""
    pg = sys.modules.get("psycopg")
    if pg is None:
        return _BASE_DOWN
    return (*_BASE_DOWN, pg.OperationalError, pg.InterfaceError)


SQLITE_HEADER = b"SQLite format 3\x00"  # the first 16 bytes of every SQLite database file


class BrokenFile(sqlite3.DatabaseError):
    """The SQLite file was replaced or overwritten under an open connection (`Conn.file_problem`)."""


AGENT_QUEUE_ENV = "POSTGUARD_AGENT_QUEUE"


def agent_queue_mode() -> bool:
    """True in a process that writes an agent's local queue (`postguard agent run` sets
    POSTGUARD_AGENT_QUEUE=1 for itself, its proxy and its backend): SQLite commits are then
    synchronous (fsync of the WAL on every commit, so an event once committed survives a power
    loss, not only a crash) and nothing is purged locally (only the server runs retention)."""
    return os.environ.get(AGENT_QUEUE_ENV) == "1"


def is_postgres(db: str) -> bool:
    """True when `db` names a PostgreSQL database rather than a SQLite file."""
    return db.startswith(("postgresql://", "postgres://"))


def describe(db: str) -> str:
    """The database name for messages, without any password."""
    return re.sub(r"://([^:/@]+):[^@]*@", r"://\1:***@", db)


class Conn:
    """One connection; SQL is written with `?` placeholders and adapted per backend."""

    def __init__(self, db: str) -> None:
        self.db = db
        self.pg = is_postgres(db)
        if self.pg:
            try:
                import psycopg
            except ImportError as e:  # pragma: no cover - psycopg is a declared dependency
                raise RuntimeError("psycopg is not installed") from e
            self.raw: Any = psycopg.connect(db, autocommit=True, connect_timeout=5)
        else:
            path = Path(db)
            if path.parent and not path.parent.exists():
                path.parent.mkdir(parents=True, exist_ok=True)
            if not path.exists():
                # Owner-only from the start; SQLite gives the -wal/-shm files the same mode.
                os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))
            self.path = os.path.abspath(db)
            # The file this connection has open (a file put in its place gets none of its writes),
            # and a descriptor to read its header with (`file_problem`).
            self.identity, self._header_fd = _header_fd(self.path)
            try:
                # isolation_level=None: we issue BEGIN ourselves (BEGIN IMMEDIATE for writes).
                self.raw = sqlite3.connect(db, timeout=30, isolation_level=None, check_same_thread=False)
                self.raw.execute("PRAGMA busy_timeout=30000")
                _wal(self.raw)
                self.raw.execute("PRAGMA synchronous=FULL" if agent_queue_mode() else "PRAGMA synchronous=NORMAL")
                self.raw.execute("PRAGMA foreign_keys=ON")
            except BaseException:
                if hasattr(self, "raw"):
                    self.close()
                else:
                    _release_header_fd(self.identity)
                raise

    def adapt_placeholders(self, q: str) -> str:
        """Adapt placeholders to the backend."""
        return q.replace("?", "%s") if self.pg else q

    def execute(self, q: str, params: Sequence[Any] = ()) -> Any:
        """Run one statement; return the cursor."""
        if self.pg:
            cur = self.raw.cursor()
            cur.execute(self.adapt_placeholders(q), tuple(params))
            return cur
        return self.raw.execute(q, tuple(params))

    def executemany(self, q: str, rows: Sequence[Sequence[Any]]) -> None:
        """Run one statement for many parameter rows."""
        if self.pg:
            with self.raw.cursor() as cur:
                cur.executemany(self.adapt_placeholders(q), rows)
        else:
            self.raw.executemany(q, rows)

    def all(self, q: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        """Every row as a dict."""
        cur = self.execute(q, params)
        cols = [d[0] for d in cur.description] if cur.description else []
        return [dict(zip(cols, r, strict=True)) for r in cur.fetchall()]

    def one(self, q: str, params: Sequence[Any] = ()) -> dict[str, Any] | None:
        """The first row as a dict, or None."""
        cur = self.execute(q, params)
        r = cur.fetchone()
        if r is None:
            return None
        return dict(zip([d[0] for d in cur.description], r, strict=True))

    def scalar(self, q: str, params: Sequence[Any] = ()) -> Any:
        """The first column of the first row, or None."""
        r = self.execute(q, params).fetchone()
        return None if r is None else r[0]

    @contextmanager
    def write(self) -> Iterator[Conn]:
        """A short write transaction; on SQLite it takes the write lock up front so that two
        processes never deadlock upgrading a read lock."""
        self.raw.execute("BEGIN IMMEDIATE" if not self.pg else "BEGIN")
        try:
            yield self
        except BaseException:
            try:
                self.raw.execute("ROLLBACK")
            except Exception:  # the connection may be gone; the caller handles that
                pass
            raise
        self.raw.execute("COMMIT")

    def lock_device(self, device: str) -> None:
        """Serialise chain appends for one device across processes (inside `write()`)."""
        if self.pg:
            self.execute("SELECT pg_advisory_xact_lock(hashtext(?))", ("postguard-chain:" + device,))
        # SQLite: BEGIN IMMEDIATE already holds the database's single write lock.

    def file_problem(self) -> str | None:
        """Why a SQLite file can no longer keep what this connection commits, or None (always
        None on PostgreSQL). Checked after every commit of events: the file at the path is no longer
        the one the connection has open (replaced, moved or deleted: the commits go to a file
        nobody opens again), or it no longer starts with the SQLite header (overwritten in place:
        with its -wal intact SQLite keeps committing into the WAL without noticing, and the events
        go with the broken file). A stat and a 16-byte read; damage past the header is found by
        SQLite itself when it reads those pages, and by `postguard logs verify`."""
        if self.pg:
            return None
        try:
            st = os.stat(self.path)
            if (st.st_dev, st.st_ino) != self.identity:
                return f"the database file {self.path} was replaced by another file"
            head = os.pread(self._header_fd, len(SQLITE_HEADER), 0)
        except FileNotFoundError:
            return f"the database file {self.path} was moved or deleted"
        except OSError as e:
            return f"the database file {self.path} cannot be read ({e.strerror or e})"
        if head != SQLITE_HEADER:
            return f"the database file {self.path} was overwritten: it no longer starts with the SQLite header"
        return None

    def close(self) -> None:
        """Close, ignoring errors from a dead connection."""
        try:
            self.raw.close()
        except Exception:
            pass
        if not self.pg and self._header_fd >= 0:
            self._header_fd = -1
            _release_header_fd(self.identity)  # after the connection: no lock of ours is left


# One read-only descriptor per database file (device, inode) in the process, for reading its
# header (`Conn.file_problem`), closed only once the process's last `Conn` to that file is closed:
# closing any descriptor of a SQLite file drops every POSIX lock the process holds on it, SQLite's
# connections' included ("How To Corrupt An SQLite Database File", section 2.2), and another
# process's last connection would then delete the WAL this process still writes to. (Every
# SQLite connection of postguard is a `Conn`.)
_HEADER_FDS: dict[tuple[int, int], list[int]] = {}  # (device, inode) -> [descriptor, Conns using it]
_HEADER_FDS_LOCK = threading.Lock()


def _header_fd(path: str) -> tuple[tuple[int, int], int]:
    """(device, inode) of the file at `path` and this process's descriptor for reading it; the
    caller releases it with `_release_header_fd` once its connection is closed."""
    with _HEADER_FDS_LOCK:
        st = os.stat(path)
        key = (st.st_dev, st.st_ino)
        if key not in _HEADER_FDS:
            fd = os.open(path, os.O_RDONLY)
            st = os.fstat(fd)  # the file opened, should another have taken the name meanwhile
            key = (st.st_dev, st.st_ino)
            if key in _HEADER_FDS:  # pragma: no cover - that race: keep the spare open (see above)
                pass
            else:
                _HEADER_FDS[key] = [fd, 0]
        entry = _HEADER_FDS[key]
        entry[1] += 1
        return key, entry[0]


def _release_header_fd(key: tuple[int, int]) -> None:
    with _HEADER_FDS_LOCK:
        entry = _HEADER_FDS.get(key)
        if entry is None:
            return
        entry[1] -= 1
        if entry[1] <= 0:
            del _HEADER_FDS[key]
            os.close(entry[0])


def _wal(raw: sqlite3.Connection, seconds: float = 30.0) -> None:
    """Put the database in WAL mode. Switching a file's journal mode needs it to itself, and SQLite
    answers "database is locked" at once, without its busy handler, while another connection of
    this or another process is opening it: retry for up to `seconds` (like the busy timeout)."""
    import time

    deadline = time.monotonic() + seconds
    while True:
        try:
            raw.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as e:
            if "locked" not in str(e) or time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def migrate(conn: Conn) -> int:
    """Apply every migration not yet recorded in `schema_migrations`; return the version."""
    with conn.write():
        if conn.pg:
            # Two processes starting at once must not both create the tables.
            conn.execute("SELECT pg_advisory_xact_lock(hashtext('postguard-migrate'))")
        conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations ("
            "version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)"
        )
        done = {r["version"] for r in conn.all("SELECT version FROM schema_migrations")}
        for version, name, statements in MIGRATIONS:
            if version in done:
                continue
            for stmt in statements(conn.pg):
                conn.execute(stmt)
            conn.execute(
                "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
                (version, name, _now_iso()),
            )
    return max(v for v, _, _ in MIGRATIONS)


def _now_iso() -> str:
    from store.event import iso

    return iso(None)


def default_db() -> str:
    """The log's location: env POSTGUARD_DB, else ./var/postguard.sqlite."""
    return os.environ.get("POSTGUARD_DB") or str(Path("var") / "postguard.sqlite")
