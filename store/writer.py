"""The one writer thread per process: batches appends, chains them, spools when the DB is down;
and `Pending`, an appended event that its caller may wait on until it is durable."""

from __future__ import annotations

import glob
import json
import logging
import os
import queue
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import Future
from pathlib import Path
from typing import Any, TypeVar

from store import incidents
from store.db import BrokenFile, Conn, db_down, migrate
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
# How long a caller waits for the writer to commit an event before spooling it itself (`Pending`).
ACK_SECONDS = 1.0
T = TypeVar("T")
# (kind, payload, future): ("event", a row, a row maker or a Pending, None), ("call", fn, future),
# ("flush", None, future) or ("stop", None, None)
Job = tuple[str, Any, Future[Any] | None]

try:  # the spool is shared by the processes writing one log; POSIX only (the agent's platforms)
    import fcntl
except ImportError:  # pragma: no cover - Windows: one process per spool
    fcntl = None  # type: ignore[assignment]


class NotDurable(ConnectionError):
    """An event neither the database nor the spool file took (both unusable): it is held in
    the writer's memory and written when either works again, but was not acknowledged."""


class Pending:
    """An event on its way into the log (`Store.submit`): its `uid` at once; `wait()` (or
    `await durable([...])`) returns once the event is durable: "committed" to the log, or
    "spooled" (appended to the spool file and fsynced, delivered to the log later). When the
    writer has not made it durable within the deadline (another process holds the database's
    lock, the file is broken, the writer is busy), the waiting caller writes it to the spool
    itself; should the writer commit it later as well, the spool's delivery skips it (uids are
    unique), so it is stored once."""

    def __init__(self, uid: str, make_row: Callable[[], dict[str, Any]] | None, writer: Writer | None) -> None:
        self.uid = uid
        self.future: Future[str] = Future()  # "committed" or "spooled", or NotDurable / the row's error
        self._make = make_row
        self._row: dict[str, Any] | None = None
        self._writer = writer
        self._lock = threading.Lock()
        self._spooled_here = False  # by its waiter: the writer leaves it to the spool

    def __repr__(self) -> str:
        state = self.future.result() if self.future.done() and not self.future.exception() else "pending"
        return f"Pending({self.uid!r}, {state})"

    @classmethod
    def settled(cls, uid: str, how: str = "committed") -> Pending:
        """A handle that is durable already (a log that writes at once, a test's recording log)."""
        p = cls(uid, None, None)
        p.future.set_result(how)
        return p

    def row(self) -> dict[str, Any]:
        """The prepared row (redacted and hashed once, by whichever thread needs it first)."""
        with self._lock:
            return self._prepared()

    def _prepared(self) -> dict[str, Any]:
        if self._row is None:
            if self._make is None:
                raise NotDurable(f"event {self.uid}: nothing left to write")
            self._row = self._make()
        return self._row

    def wait(self, timeout: float = ACK_SECONDS) -> str:
        """Block until the event is durable ("committed" or "spooled"); spool it here after
        `timeout`. Raises NotDurable when neither the database nor the spool takes it."""
        return wait_durable([self], timeout)[0]

    # -- the writer's side ---------------------------------------------------------------
    def _take(self) -> dict[str, Any] | None:
        """The row to write, or None when the waiter spooled it already."""
        with self._lock:
            return None if self._spooled_here else self._prepared()

    def _settle(self, how: str) -> None:
        if not self.future.done():
            self.future.set_result(how)
        with self._lock:  # durable: the row is not needed any more
            self._make = self._row = None

    def _fail(self, e: BaseException) -> None:
        if not self.future.done():
            self.future.set_exception(e)

    def _ok(self) -> str | None:
        """"committed" / "spooled" once durable, else None."""
        f = self.future
        return f.result() if f.done() and f.exception() is None else None


def _spool_late(pendings: list[Pending]) -> list[str]:
    """Write the events of `pendings` not yet durable to their writer's spool (one write and
    fsync per spool); their outcomes, in order. Raises NotDurable if a spool cannot be written."""
    late = [p for p in pendings if p._ok() is None]
    by_writer: dict[int, list[Pending]] = {}
    for p in late:
        if p._writer is None:
            p.future.result()  # settled with an error: raise it
        by_writer.setdefault(id(p._writer), []).append(p)
    for group in by_writer.values():
        writer = group[0]._writer
        assert writer is not None
        for p in group:
            p._lock.acquire()
        try:
            todo = [p for p in group if p._ok() is None]
            try:
                rows = [p._prepared() for p in todo]
                if rows:
                    writer._spool_write(rows)
            except Exception as e:
                log.critical("interception log: %d events neither written to the log nor spooled to %s "
                             "(%s: %s); not acknowledged", len(todo), writer.spool, type(e).__name__, e)
                raise NotDurable(f"{len(todo)} events neither written to the log nor spooled "
                                 f"({type(e).__name__}: {e})") from e
            for p in todo:
                p._spooled_here = True
        finally:
            for p in group:
                p._lock.release()
        for p in todo:
            p._settle("spooled")
        if todo:
            log.warning("interception log: %d events not written in time (%s); spooled to %s",
                        len(todo), writer.last_error or "the writer is busy: the database is locked or slow",
                        writer.spool)
    return [p._ok() or "spooled" for p in pendings]


def _deadline(pendings: Iterable[Pending], timeout: float) -> float:
    """`timeout`, or 0 when the writer has been busy with one job for longer than that already
    (a lock held by another process): the new events wait behind it, so spool them at once."""
    return 0.0 if any(p._writer is not None and p._writer.busy_for() > timeout for p in pendings) else timeout


def wait_durable(pendings: list[Pending], timeout: float = ACK_SECONDS) -> list[str]:
    """Block until every event of `pendings` is durable; those the writer has not made durable
    within `timeout` are spooled here. Their outcomes ("committed" / "spooled"); NotDurable
    when the spool cannot be written either."""
    end = time.monotonic() + _deadline(pendings, timeout)
    for p in pendings:
        try:
            p.future.result(max(0.0, end - time.monotonic()))
        except Exception:  # not in time, held in memory, or the row failed: the spool decides
            break
    return _spool_late(pendings)


async def durable(pendings: list[Pending], timeout: float = ACK_SECONDS) -> list[str]:
    """`wait_durable` for an event loop: waits without blocking the loop (the spooling of late
    events, file I/O with an fsync, runs on a thread)."""
    import asyncio

    waiting = [asyncio.wrap_future(p.future) for p in pendings if not p.future.done()]
    if waiting:
        await asyncio.wait(waiting, timeout=_deadline(pendings, timeout))
    if all(p._ok() is not None for p in pendings):
        return [str(p._ok()) for p in pendings]
    return await asyncio.to_thread(_spool_late, pendings)


def insert_events(conn: Conn, rows: list[dict[str, Any]], dedupe: bool = False) -> int:
    """Chain and insert prepared rows in one short transaction; with `dedupe` skip uids already
    stored (a spool replayed perhaps twice; an event both spooled by its waiter and committed by
    the writer). Returns how many were inserted."""
    n = 0
    rules: list[tuple[Any, ...]] = []
    clauses: list[tuple[Any, ...]] = []
    pairs: list[tuple[Any, ...]] = []
    written: list[tuple[int, dict[str, Any]]] = []
    with conn.write():
        heads: dict[str, tuple[int, str]] = {}
        for row in rows:
            dev = row["device"]
            if dev not in heads:
                conn.lock_device(dev)  # first: a replay of the same events elsewhere waits for it
                h = conn.one("SELECT seq, hash FROM chain_heads WHERE device = ?", (dev,))
                heads[dev] = (int(h["seq"]), h["hash"]) if h else (0, GENESIS)
            if dedupe and conn.scalar("SELECT 1 FROM events WHERE uid = ?", (row["uid"],)):
                continue
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
        self._busy_since: float | None = None  # when the job the thread is on began
        self.thread = threading.Thread(target=self._loop, name="postguard-store-writer", daemon=True)
        self.thread.start()

    # -- called from any thread ----------------------------------------------------------
    def submit_event(self, row: Any) -> None:
        """Queue an event (a prepared row, a callable producing one, or a `Pending`)."""
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

    def busy_for(self) -> float:
        """How long the thread has been on its current job (0 when it waits for one)."""
        since = self._busy_since
        return 0.0 if since is None else time.monotonic() - since

    def health(self) -> dict[str, Any]:
        """How the log is being kept, for a health check (no error text: it may name paths):
        "writing" (connected, nothing spooled), "spooling" (the database is not taking events;
        they are kept in the fsynced spool for later), "holding" (neither takes them: events
        held in memory only, not durable), with the spool's size in bytes and the held count."""
        spooled = 0
        for name in self._spool_files():
            try:
                spooled += os.path.getsize(name)
            except OSError:  # replayed and removed meanwhile
                pass
        state = "holding" if self.held else "spooling" if self.conn is None or spooled else "writing"
        return {"state": state, "spool_bytes": spooled, "held": len(self.held)}

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
            self._check_file(conn)
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

    @staticmethod
    def _check_file(conn: Conn) -> None:
        """Raise BrokenFile when the SQLite file can no longer keep what the connection commits."""
        problem = conn.file_problem()
        if problem:
            raise BrokenFile(problem)

    def _spool_write(self, rows: list[dict[str, Any]]) -> None:
        """Append `rows` to the spool and fsync it (from the writer thread, or a waiter's)."""
        self.spool.parent.mkdir(parents=True, exist_ok=True)
        data = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows).encode("utf-8")
        with self._spool_lock:
            while True:
                # Owner-only: the spool holds (redacted) posts until the database takes them.
                fd = os.open(self.spool, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
                try:
                    if not _lock_same(fd, self.spool):
                        continue  # claimed for a replay since it was opened: write a fresh one
                    new = os.fstat(fd).st_size == 0
                    view = memoryview(data)
                    while view:
                        view = view[os.write(fd, view):]
                    os.fsync(fd)
                finally:
                    os.close(fd)  # and the lock with it
                if new:  # the file's name is durable too, not only its bytes
                    _fsync_dir(self.spool.parent)
                return

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
                # Claim it atomically so another process replaying at once never double-reads;
                # under the spool's lock, so no write (ours or another process's) goes on in it.
                claimed = path.with_name(f"{path.name}.replay-{time.time_ns()}-{os.getpid()}")
                try:
                    with self._spool_lock:
                        fd = os.open(path, os.O_RDONLY)
                        try:
                            if not _lock_same(fd, path):
                                continue
                            os.replace(path, claimed)
                        finally:
                            os.close(fd)
                except FileNotFoundError:
                    continue
                path = claimed
            rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
            try:
                for i in range(0, len(rows), 500):
                    insert_events(conn, rows[i:i + 500], dedupe=True)
                self._check_file(conn)  # committed into a broken file: keep the spool
            except Exception as e:  # the file stays claimed; it is replayed on the next try
                self._down(e)
                return
            path.unlink(missing_ok=True)
            log.info("replayed %d spooled events from %s", len(rows), path)

    def _write_or_spool(self, items: list[tuple[dict[str, Any], Pending | None]]) -> None:
        """Commit the rows (a waiter's `Pending` settled once its row is durable), else spool them."""
        rows = [r for r, _ in items]
        waiting = [p for _, p in items if p is not None]
        if self.held:
            rows, self.held = [*self.held, *rows], []
        conn = self._connect()
        if conn is not None and self._spool_files():
            self._replay()  # keep order: what waited in the spool goes first
        if self.conn is not None and not self._spool_files():
            try:
                # dedupe: a waiter may have spooled one of them meanwhile, and a replay stored it
                insert_events(self.conn, rows, dedupe=True)
                self._check_file(self.conn)  # committed, but into a file that keeps nothing?
                for p in waiting:
                    p._settle("committed")
                return
            except Exception as e:  # any database error, not only "down": never drop the rows
                self._down(e)
        try:
            self._spool_write(rows)
        except OSError as e:
            self.held = rows[-MAX_HELD:]
            log.critical("interception log: cannot spool to %s (%s); %d events held in memory%s", self.spool,
                         e, len(self.held), "" if len(rows) <= MAX_HELD else f", {len(rows) - MAX_HELD} dropped")
            for p in waiting:
                p._fail(NotDurable(f"interception log unavailable ({self.last_error}) and the spool "
                                   f"cannot be written ({e}); held in memory"))
            return
        for p in waiting:
            p._settle("spooled")

    def _loop(self) -> None:
        while True:
            try:
                first = self.jobs.get(timeout=RETRY_SECONDS)
            except queue.Empty:
                self._guarded(self._idle)
                continue
            batch = self._batch(first)
            self._busy_since = time.monotonic()
            try:
                if not self._do(batch):
                    return
            except Exception as e:  # a bug or a failing spool disk: the thread must outlive it
                log.exception("interception log writer: a batch failed")
                self.last_error = f"{type(e).__name__}: {e}"
                for _, payload, fut in batch:
                    if fut is not None and not fut.done():
                        fut.set_exception(ConnectionError(f"interception log unavailable: {self.last_error}"))
                    if isinstance(payload, Pending):  # its waiter spools it (the spool may work)
                        payload._fail(NotDurable(f"interception log writer failed: {self.last_error}"))
            finally:
                self._busy_since = None

    def _guarded(self, fn: Callable[[], None]) -> None:
        self._busy_since = time.monotonic()
        try:
            fn()
        except Exception as e:
            log.exception("interception log writer: upkeep failed")
            self.last_error = f"{type(e).__name__}: {e}"
        finally:
            self._busy_since = None

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
        rows: list[tuple[dict[str, Any], Pending | None]] = []
        for kind, payload, fut in batch:
            if kind == "event":
                pending = payload if isinstance(payload, Pending) else None
                try:
                    row = pending._take() if pending else payload() if callable(payload) else payload
                except Exception as e:  # a bad event must not stop the writer
                    log.exception("could not prepare an event")
                    if pending:
                        pending._fail(e)
                    continue
                if row is not None:  # None: its waiter has spooled it
                    rows.append((row, pending))
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


def _lock_same(fd: int, path: Path) -> bool:
    """Take the spool's lock on `fd` (shared by every process writing the log) and say whether
    `path` still names the file: False when a replay claimed (renamed) it meanwhile."""
    if fcntl is not None:
        fcntl.flock(fd, fcntl.LOCK_EX)
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return False
    own = os.fstat(fd)
    return (st.st_dev, st.st_ino) == (own.st_dev, own.st_ino)


def _fsync_dir(d: Path) -> None:
    try:
        fd = os.open(d, os.O_RDONLY)
    except OSError:  # pragma: no cover - a platform without directory handles
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover - some file systems refuse it; the data is synced
        pass
    finally:
        os.close(fd)
