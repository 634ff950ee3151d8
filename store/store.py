"""`Store`: the interception log as writers and readers see it."""

from __future__ import annotations

import dataclasses
import hashlib
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

from store import accounts, chain, export, query
from store.config import StoreConfig
from store.db import Conn, agent_queue_mode, db_down, describe, is_postgres, migrate
from store.event import (
    ACTIONS,
    SOURCES,
    Event,
    check_staff,
    default_device,
    default_employee,
    iso,
    new_uid,
    to_row,
)
from store.writer import Pending, Writer

PURGE_EVERY_SECONDS = 86400.0
T = TypeVar("T")


class Store:
    """An open interception log: `append` from any thread; reads on a per-thread connection."""

    def __init__(self, db: str, *, config: StoreConfig, device: str | None = None, employee: str | None = None,
                 spool: str | Path | None = None, auto_purge: bool = True, staff: str | None = None) -> None:
        self.db = db
        self.config = config
        self.device = device or default_device()
        # Under the agent the process runs as the service account, which names no one: its events
        # name the person in `staff` (the connection's OS account, the browser profile, the enrolment).
        self.employee = employee if employee is not None else (None if agent_queue_mode() else default_employee())
        # The device's assigned user (agent enrol --user): the staff of events that name none.
        self.staff = check_staff(staff, "enrolment") if staff else (None, None)
        # An agent's queue is never purged on the device: its events leave only once the server has them.
        self.auto_purge = auto_purge and not agent_queue_mode()
        self._last_purge: float | None = None
        self._local = threading.local()
        self._readers: list[Conn] = []
        self._readers_lock = threading.Lock()
        self.spool = Path(spool) if spool else default_spool(db)
        self.writer = Writer(db, self.spool, upkeep=self._purge_daily)
        self._ready = False

    def __repr__(self) -> str:
        return f"Store({describe(self.db)!r}, content={self.content_mode})"

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- writing -------------------------------------------------------------------------
    def submit(self, ev: Event) -> Pending:
        """Queue one event; the handle gives its id at once, and `wait()` (or, on an event loop,
        `await store.writer.durable([...])`) returns once it is durable: committed, or in the
        fsynced spool. Acknowledge an event (answer a post, a 201) only after that. Never blocks
        on or raises for the database (a down database means the event is spooled to a local
        file and replayed later)."""
        if ev.source not in SOURCES:
            raise ValueError(f"event source must be one of {', '.join(SOURCES)}")
        if ev.action not in ACTIONS:
            raise ValueError(f"event action must be one of {', '.join(ACTIONS)}")
        ev = dataclasses.replace(ev, findings=list(ev.findings or ()),
                                 time=ev.time if ev.time is not None else time.time())
        uid = new_uid(ev.time)
        config = self.config  # redacted as the configuration in force when it was submitted says
        pending = Pending(uid, lambda: self._row(ev, uid, config), self.writer)
        self.writer.submit_event(pending)
        return pending

    def append(self, ev: Event) -> str:
        """Queue one event and return its id without waiting for it to be durable (`submit`
        for a caller that acknowledges it)."""
        return self.submit(ev).uid

    @property
    def content_mode(self) -> str:
        return self.config.content_mode

    @property
    def retention_days(self) -> int:
        return self.config.retention_days

    def reconfigure(self, config: StoreConfig) -> None:
        """What the log keeps from now on (a new policy in force: its content mode, retention and
        redaction); events submitted before keep the configuration they were submitted under."""
        self.config = config

    def _row(self, ev: Event, uid: str, config: StoreConfig) -> dict[str, Any]:
        row = to_row(ev, mode=config.content_mode, redact=config.redact, device=self.device,
                     employee=self.employee, staff=self.staff)
        row["uid"] = uid
        return row

    def flush(self, timeout: float = 30.0) -> bool:
        """Wait until every appended event is written or spooled; True when the spool is empty."""
        return self.writer.flush(timeout)

    def close(self) -> None:
        """Write what is queued and release connections."""
        self.writer.stop()
        with self._readers_lock:
            for c in self._readers:
                c.close()
            self._readers.clear()

    def write(self, fn: Callable[[Conn], T]) -> T:
        """Run a write `fn(conn)` on the writer thread (one writer per process)."""
        return self.writer.run(fn)

    def _purge_daily(self, conn: Conn) -> None:
        if self.auto_purge and (self._last_purge is None
                                or time.monotonic() - self._last_purge > PURGE_EVERY_SECONDS):
            self._last_purge = time.monotonic()
            chain.purge(conn, self.retention_days)

    # -- reading -------------------------------------------------------------------------
    def reader(self) -> Conn:
        """This thread's read connection (the schema is migrated first)."""
        conn: Conn | None = getattr(self._local, "conn", None)
        if conn is None:
            if not self._ready:
                self.write(lambda c: None)  # connects and migrates, or raises ConnectionError
                self._ready = True
            conn = Conn(self.db)
            self._local.conn = conn
            with self._readers_lock:
                self._readers.append(conn)
        return conn

    def read(self, fn: Callable[[Conn], T]) -> T:
        """Run a read `fn(conn)`, reconnecting once if the connection dropped."""
        try:
            return fn(self.reader())
        except db_down():
            self._local.conn = None
            return fn(self.reader())

    def find_requests(self, keys: list[tuple[str, str, str]]) -> dict[tuple[str, str, str], str]:
        """The stored events of these (device, request id, action) keys: key -> the first event's
        id (events in the database; not those still in the spool)."""
        if not keys:
            return {}
        ids = sorted({k[1] for k in keys})
        wanted = set(keys)

        def find(c: Conn) -> dict[tuple[str, str, str], str]:
            out: dict[tuple[str, str, str], str] = {}
            for i in range(0, len(ids), 200):
                part = ids[i:i + 200]
                for r in c.all(f"SELECT device, request_id, action, uid FROM events WHERE request_id IN "
                               f"({', '.join('?' * len(part))}) ORDER BY id", tuple(part)):
                    k = (r["device"], r["request_id"], r["action"])
                    if k in wanted:
                        out.setdefault(k, r["uid"])
            return out

        return self.read(find)

    def verify(self, device: str | None = None) -> tuple[int, list[chain.Problem]]:
        """Check every device's hash chain: (events checked, problems)."""
        return self.read(lambda c: chain.verify(c, device))

    def purge(self, days: int | None = None, now: float | None = None) -> int:
        """Delete events older than the retention period (the configured days unless given)."""
        d = self.retention_days if days is None else days
        return self.write(lambda c: chain.purge(c, d, now))

    def audit(self, actor: str, action: str, event_uid: str | None = None, detail: str | None = None) -> None:
        """Record who did what (console views, reviews, exports, logins)."""
        self.write(lambda c: c.execute(
            "INSERT INTO audit (ts, actor, action, event_uid, detail) VALUES (?, ?, ?, ?, ?)",
            (iso(None), actor, action, event_uid, detail)))

    def audit_trail(self, actor: str = "", before: int | None = None, limit: int = 100) -> list[dict[str, Any]]:
        """The audit trail, newest first (optionally one actor's, or older than entry `before`)."""
        return self.read(lambda c: accounts.audit_trail(c, actor, before, limit))

    def list_events(self, f: query.Filters | None = None, *, limit: int = 50, before: str | None = None,
                    after: str | None = None) -> tuple[list[dict[str, Any]], bool]:
        """One page of events, newest first: (rows, more); `before`/`after` are row cursors."""
        return self.read(lambda c: query.list_events(c, f or query.Filters(), limit=limit,
                                                     before=before, after=after))

    def iter_events(self, f: query.Filters | None = None) -> Iterator[dict[str, Any]]:
        """Every matching event, oldest first (for export)."""
        return export.iter_events(self.reader(), f or query.Filters())

    def get_event(self, uid: str) -> dict[str, Any] | None:
        """One event with findings, reviews, views and chain status."""
        return self.read(lambda c: query.get_event(c, uid))

    def review(self, uid: str, reviewer: str, status: str, note: str = "") -> bool:
        """Mark an event reviewed / dismissed / escalated with a note (logged in the audit)."""
        return self.write(lambda c: query.review(c, uid, reviewer, status, note))

    def dashboard(self, days: int = 30) -> dict[str, Any]:
        """The dashboard figures for the last `days` days."""
        return self.read(lambda c: query.dashboard(c, days))

    def schema_version(self) -> int:
        """The highest migration applied."""
        return int(self.read(lambda c: c.scalar("SELECT MAX(version) FROM schema_migrations")))


    # -- console accounts and sessions (the console hashes; only hashes are stored) -----------
    def save_user(self, name: str, role: str, pw_hash: str, actor: str) -> bool:
        """Create a console user or reset one's role and password hash; True when created."""
        return self.write(lambda c: accounts.save_user(c, name, role, pw_hash, actor))

    def user_credentials(self, name: str) -> dict[str, Any] | None:
        """An enabled user's role and password hash."""
        return self.read(lambda c: accounts.user_credentials(c, name))

    def start_session(self, token_hash: str, name: str, csrf: str, now: float, hours: float) -> None:
        """Record a console session."""
        self.write(lambda c: accounts.start_session(c, token_hash, name, csrf, now, hours))

    def live_session(self, token_hash: str) -> dict[str, Any] | None:
        """The unexpired session behind a token hash, with the user's role."""
        return self.read(lambda c: accounts.live_session(c, token_hash))

    def end_session(self, token_hash: str) -> None:
        """Delete a console session."""
        self.write(lambda c: accounts.end_session(c, token_hash))


def default_spool(db: str) -> Path:
    """Where events wait while the database is down: next to a SQLite file, else under ./var."""
    if is_postgres(db):
        tag = hashlib.sha256(db.encode()).hexdigest()[:12]
        return Path("var") / f"postguard-spool-{tag}.jsonl"
    return Path(db + ".spool.jsonl")


def open_store(db: str | None, config: StoreConfig, *, device: str | None = None,
               employee: str | None = None, spool: str | Path | None = None,
               auto_purge: bool = True, staff: str | None = None) -> Store:
    """Open the log at `db` (a SQLite path or postgresql:// URL; None: `default_db()`),
    migrating it; `config` sets content mode, retention and redaction."""
    from store.db import default_db

    st = Store(str(db or default_db()), config=config, device=device, employee=employee,
               spool=spool, auto_purge=auto_purge, staff=staff)
    st.writer.connect_soon()
    return st


__all__ = ["Store", "open_store", "migrate"]
