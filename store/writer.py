"""The one writer thread per process: batches appends, chains them, spools when the DB is down."""

from __future__ import annotations

import glob
import json
import logging
import os
import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from pathlib import Path
from typing import Any, TypeVar

from store import incidents
from store.db import Conn, db_down, migrate
from store.event import GENESIS, STAFF_FIELDS, chain_hash

log = logging.getLogger("postguard.store")

_EVENT_COLS = (
    "uid", "ts", "device", "seq", "employee", "source", "site", "url", "account", "target", "kind",
    "action", "rules", "findings", "justification", "content_mode", "content", "content_hash",
    "policy_digest", "error", "request_id", "prev_hash", "hash",
)
_ROW_COLS = (*_EVENT_COLS, *STAFF_FIELDS)  # the staff fields came with migration 10
_INSERT = f"INSERT INTO events ({', '.join(_ROW_COLS)}) VALUES ({', '.join('?' * len(_ROW_COLS))})"
RETRY_SECONDS = 2.0
MAX_HELD = 100_000  # events kept in memory when neither the database nor the spool file takes them
T = TypeVar("T")
# (kind, payload, future): ("event", row or row maker, None), ("call", fn, future), ("flush", None,
# future) or ("stop", None, None)
Job = tuple[str, Any, Future[Any] | None]


def insert_events(conn: Conn, rows: list[dict[str, Any]], dedupe: bool = False) -> int:
    """Chain and insert prepared rows in one short transaction; with `dedupe` (a spool being
    replayed, perhaps twice) skip uids already stored. Returns how many were inserted."""
    n = 0
    rules: list[tuple[Any, ...]] = []
    clauses: list[tuple[Any, ...]] = []
    pairs: list[tuple[Any, ...]] = []
    written: list[tuple[int, dict[str, Any]]] = []
    with conn.write():
        heads: dict[str, tuple[int, str]] = {}
        for row in rows:
            if dedupe and conn.scalar("SELECT 1 FROM events WHERE uid = ?", (row["uid"],)):
                continue
            dev = row["device"]
            if dev not in heads:
                conn.lock_device(dev)
                h = conn.one("SELECT seq, hash FROM chain_heads WHERE device = ?", (dev,))
                heads[dev] = (int(h["seq"]), h["hash"]) if h else (0, GENESIS)
            seq, prev = heads[dev]
            full = dict(row, seq=seq + 1, prev_hash=prev)
            full["hash"] = chain_hash(full)
            heads[dev] = (seq + 1, full["hash"])
            eid = conn.execute(_INSERT + " RETURNING id", [full.get(c) for c in _ROW_COLS]).fetchone()[0]
            written.append((eid, full))
            found = json.loads(row["findings"])
            tail = (row["ts"], row["site"], row["action"], "open")  # copies for the list's indexes
            rules += [(eid, r, *tail) for r in sorted({str(f["rule"]) for f in found if f.get("rule")})]
            clauses += [(eid, c, *tail) for c in sorted({str(f["clause"]) for f in found if f.get("clause")})]
            pairs += [(eid, r, c, *tail) for r, c in sorted({(str(f["rule"]), str(f["clause"])) for f in found
                                                             if f.get("rule") and f.get("clause")})]
            n += 1
        for table, cols, vals in (("event_rules", "rule", rules), ("event_clauses", "clause", clauses),
                                  ("event_pairs", "rule, clause", pairs)):
            if vals:
                marks = ", ".join("?" * len(vals[0]))
                conn.executemany(f"INSERT INTO {table} (event_id, {cols}, ts, site, action, review_status) "
                                 f"VALUES ({marks})", vals)
        incidents.assign(conn, written)
        for dev, (seq, head_hash) in heads.items():
            if conn.pg:
                conn.execute(
                    "INSERT INTO chain_heads (device, seq, hash) VALUES (?, ?, ?) "
                    "ON CONFLICT (device) DO UPDATE SET seq = EXCLUDED.seq, hash = EXCLUDED.hash",
                    (dev, seq, head_hash),
                )
            else:
                conn.execute("INSERT OR REPLACE INTO chain_heads (device, seq, hash) VALUES (?, ?, ?)",
                             (dev, seq, head_hash))
    return n


def _broken(e: BaseException) -> bool:
    """An error that means the database itself is unusable (corrupt, not a database, disk full)."""
    import sqlite3

    if isinstance(e, sqlite3.DatabaseError) and not isinstance(e, sqlite3.IntegrityError | sqlite3.ProgrammingError):
        return True
    pg = __import__("sys").modules.get("psycopg")
    return pg is not None and isinstance(e, pg.errors.DiskFull | pg.errors.DataCorrupted)


class Writer:
    """Owns the process's write connection; everything that writes goes through `run` or
    `submit_event`."""

    def __init__(self, db: str, spool: Path, upkeep: Callable[[Conn], None] | None = None) -> None:
        self.db = db
        self.spool = spool
        self.upkeep = upkeep  # run on connecting and while idle (the retention purge)
        self.jobs: queue.Queue[Job] = queue.Queue()
        self.conn: Conn | None = None
        self.last_try = 0.0
        self.last_error: str | None = None
        self._spool_lock = threading.Lock()
        # Rows neither the database nor the spool file took (the spool's disk full or read-only):
        # held in memory, bounded, and written first when either works again.
        self.held: list[dict[str, Any]] = []
        self._stopped = False
        self.thread = threading.Thread(target=self._loop, name="postguard-store-writer", daemon=True)
        self.thread.start()

    # -- called from any thread ----------------------------------------------------------
    def submit_event(self, row: Any) -> None:
        """Queue an event (a prepared row, or a callable producing one)."""
        self.jobs.put(("event", row, None))
        if not self.thread.is_alive() and not self._stopped:
            # Never again an append that returns an id for an event nobody will write.
            log.error("interception log writer had stopped; starting it again")
            self.thread = threading.Thread(target=self._loop, name="postguard-store-writer", daemon=True)
            self.thread.start()

    def run(self, fn: Callable[[Conn], T], timeout: float = 30.0) -> T:
        """Run `fn(conn)` on the writer thread and return its result (or raise its error)."""
        fut: Future[T] = Future()
        self.jobs.put(("call", fn, fut))
        return fut.result(timeout)

    def connect_soon(self) -> None:
        """Connect, migrate and replay the spool now, in the background (nobody waits for it)."""
        self.jobs.put(("flush", None, Future()))

    def flush(self, timeout: float = 30.0) -> bool:
        """Wait until everything queued so far is written or spooled; True if nothing is
        left in the spool."""
        fut: Future[Any] = Future()
        self.jobs.put(("flush", None, fut))
        return bool(fut.result(timeout))

    def stop(self, timeout: float = 30.0) -> None:
        """Write what is queued, then end the thread."""
        self._stopped = True
        self.jobs.put(("stop", None, None))
        self.thread.join(timeout)

    # -- the thread ----------------------------------------------------------------------
    def _connect(self) -> Conn | None:
        if self.conn is not None:
            return self.conn
        if time.monotonic() - self.last_try < RETRY_SECONDS:
            return None
        self.last_try = time.monotonic()
        conn = None
        try:
            conn = Conn(self.db)
            migrate(conn)
            if self.upkeep:
                self.upkeep(conn)
        except Exception as e:  # down, corrupt, overwritten, full, locked: spool and retry later
            if conn is not None:
                try:
                    conn.close()
                except Exception:  # a broken connection may fail to close too
                    pass
            self._down(e)
            return None
        self.conn, self.last_error = conn, None
        self._replay()
        return self.conn

    def _down(self, e: BaseException) -> None:
        """The database failed (down, or any other error: corrupt, overwritten, full): from now
        on events go to the spool until a fresh connection takes them."""
        msg = f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"
        if msg != self.last_error:
            level = logging.WARNING if isinstance(e, db_down()) else logging.ERROR
            log.log(level, "interception log unavailable (%s); spooling to %s", msg, self.spool)
        self.last_error = msg
        if self.conn is not None:
            try:
                self.conn.close()
            except Exception:  # a broken connection may fail to close too
                pass
            self.conn = None

    def _spool_write(self, rows: list[dict[str, Any]]) -> None:
        self.spool.parent.mkdir(parents=True, exist_ok=True)
        # Owner-only: the spool holds (redacted) posts until the database takes them.
        fd = os.open(self.spool, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        with self._spool_lock, open(fd, "a", encoding="utf-8") as f:
            for r in rows:
                f.write(json.dumps(r, ensure_ascii=False) + "\n")
            f.flush()
            os.fsync(f.fileno())

    def _spool_files(self) -> list[str]:
        return sorted(glob.glob(f"{glob.escape(str(self.spool))}.replay-*")) + (
            [str(self.spool)] if self.spool.exists() else [])

    def _replay(self) -> None:
        """Move spooled events into the database, oldest file first."""
        conn = self.conn
        if conn is None:
            return
        for name in self._spool_files():
            path = Path(name)
            if path == self.spool:
                # Claim it atomically so another process replaying at once never double-reads.
                claimed = path.with_name(f"{path.name}.replay-{time.time_ns()}-{os.getpid()}")
                try:
                    os.replace(path, claimed)
                except FileNotFoundError:
                    continue
                path = claimed
            rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
            try:
                for i in range(0, len(rows), 500):
                    insert_events(conn, rows[i:i + 500], dedupe=True)
            except Exception as e:  # the file stays claimed; it is replayed on the next try
                self._down(e)
                return
            path.unlink(missing_ok=True)
            log.info("replayed %d spooled events from %s", len(rows), path)

    def _write_or_spool(self, rows: list[dict[str, Any]]) -> None:
        if self.held:
            rows, self.held = [*self.held, *rows], []
        conn = self._connect()
        if conn is not None and self._spool_files():
            self._replay()  # keep order: what waited in the spool goes first
        if self.conn is not None and not self._spool_files():
            try:
                insert_events(self.conn, rows)
                return
            except Exception as e:  # any database error, not only "down": never drop the rows
                self._down(e)
        try:
            self._spool_write(rows)
        except OSError as e:
            self.held = rows[-MAX_HELD:]
            log.critical("interception log: cannot spool to %s (%s); %d events held in memory%s", self.spool,
                         e, len(self.held), "" if len(rows) <= MAX_HELD else f", {len(rows) - MAX_HELD} dropped")

    def _loop(self) -> None:
        while True:
            try:
                first = self.jobs.get(timeout=RETRY_SECONDS)
            except queue.Empty:
                self._guarded(self._idle)
                continue
            batch = self._batch(first)
            try:
                if not self._do(batch):
                    return
            except Exception as e:  # a bug or a failing spool disk: the thread must outlive it
                log.exception("interception log writer: a batch failed")
                self.last_error = f"{type(e).__name__}: {e}"
                for _, _, fut in batch:
                    if fut is not None and not fut.done():
                        fut.set_exception(ConnectionError(f"interception log unavailable: {self.last_error}"))

    def _guarded(self, fn: Callable[[], None]) -> None:
        try:
            fn()
        except Exception as e:
            log.exception("interception log writer: upkeep failed")
            self.last_error = f"{type(e).__name__}: {e}"

    def _idle(self) -> None:
        """Nothing queued for a while: retry the spool, and the periodic upkeep (the daily purge)."""
        if self.held:
            self._write_or_spool([])
        if self._spool_files():
            self._connect()
            if self.conn is not None:
                self._replay()
        if self.conn is not None and self.upkeep:
            try:
                self.upkeep(self.conn)
            except Exception as e:
                self._down(e)

    def _batch(self, first: Job) -> list[Job]:
        """`first` and whatever else is queued, up to 500 jobs."""
        batch = [first]
        while len(batch) < 500:
            try:
                batch.append(self.jobs.get_nowait())
            except queue.Empty:
                break
        return batch

    def _do(self, batch: list[Job]) -> bool:
        """Run a batch in order, events written together between the other jobs; False on stop."""
        rows: list[dict[str, Any]] = []
        for kind, payload, fut in batch:
            if kind == "event":
                try:
                    rows.append(payload() if callable(payload) else payload)
                except Exception:  # a bad event must not stop the writer
                    log.exception("could not prepare an event")
                continue
            if rows:
                self._write_or_spool(rows)
                rows = []
            if kind == "stop":
                if self.conn is not None:
                    self.conn.close()
                    self.conn = None
                return False
            if fut is not None:
                self._answer(kind, payload, fut)
        if rows:
            self._write_or_spool(rows)
        return True

    def _answer(self, kind: str, payload: Any, fut: Future[Any]) -> None:
        """A flush (is the spool empty now?) or a call (`payload(conn)`), answered through `fut`."""
        if kind == "flush":
            if self.held:
                self._write_or_spool([])
            if self._spool_files() and self._connect() is not None:
                self._replay()
            fut.set_result(not self._spool_files() and not self.held)
            return
        conn = self._connect()
        if conn is None:
            fut.set_exception(ConnectionError(f"interception log unavailable: {self.last_error}"))
            return
        try:
            fut.set_result(payload(conn))
        except db_down() as e:
            self._down(e)
            fut.set_exception(ConnectionError(f"interception log unavailable: {e}"))
        except Exception as e:
            if _broken(e):  # corrupt or overwritten file: reconnect on the next job
                self._down(e)
            fut.set_exception(e)
