"""Where checks run: a pool of worker processes fed over pipes, or threads in the proxy process.

mitmproxy's loop already saturates one core; the checker (~1-2 ms a post) runs on the other.
Pipes are read by the loop itself: an executor's helper threads would fight the loop for the
GIL on every request, which costs more than the check saves.

Each worker checks one request at a time; a request waits for an idle worker (at most the check
budget), so a slow check never queues others behind it on the same process. A check past its
budget is killed with its process, which the pool replaces at once (the replacement loads the
policy while the other workers go on), so no body, however crafted, keeps a worker busy longer
than the budget. Threads (`n_workers` 0) cannot be stopped that way.

A new policy (`Checks.swap`) starts a whole new set of workers on it while the old set keeps
checking; once every new worker has loaded it, new checks go to them, idle old workers stop at
once and busy ones stop when their check is answered (no check in flight is killed). If a new
worker cannot start, the new set is stopped and the old one stays.
"""

from __future__ import annotations

import asyncio
import os
import pickle
import sys
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from checker import InputError, Policy, check
from enforce import Inspection, inspect_request, inspect_websocket
from enforce.inspect import Checker
from proxy_addon.extract import BodyError


class WorkerGone(RuntimeError):
    """The check worker process exited (killed, out of memory) with requests in flight."""


# Exceptions the worker sends back by name, re-raised here so the fail mode sees their kind.
_WORKER_ERRORS: dict[str, type[Exception]] = {"BodyError": BodyError, "InputError": InputError}


def _error_from(name: str, msg: str) -> Exception:
    if name in _WORKER_ERRORS:
        return _WORKER_ERRORS[name](msg)
    return RuntimeError(f"{name}: {msg}")


class CheckWorker:
    """A child process running `enforce.inspect_request`, driven from the event loop."""

    def __init__(self, policy_dir: str, encoder: bool = True) -> None:
        """Nothing starts until the first `inspect` (or `start`)."""
        self.policy_dir = policy_dir
        self.encoder = encoder  # False: the worker checks with rules + linear models only
        self.proc: asyncio.subprocess.Process | None = None
        self.pending: dict[int, asyncio.Future[Any]] = {}
        self._next = 0
        self._lock: asyncio.Lock | None = None
        self._reader: asyncio.Task[None] | None = None
        self._stopped = False

    def _alive(self) -> bool:
        return (self.proc is not None and self.proc.returncode is None
                and self._reader is not None and not self._reader.done())

    async def start(self) -> None:
        """Start the process (once; again after it died) and wait until it has loaded the policy."""
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            if self._alive():
                return
            if self._stopped:
                raise WorkerGone("check worker was stopped")
            try:
                self.proc = await asyncio.create_subprocess_exec(
                    sys.executable, "-m", "proxy_addon.main", "--check-worker", self.policy_dir,
                    *([] if self.encoder else ["--no-encoder"]),
                    stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, limit=1 << 26)
                assert self.proc.stdout
                try:
                    ready = await self.proc.stdout.readexactly(4)
                except asyncio.IncompleteReadError:
                    ready = b""
            except BaseException:  # cancelled (the pool was stopped meanwhile) or failed: no orphan
                self.stop()
                raise
            if ready != b"PGW1" or self._stopped:
                self.stop()
                raise WorkerGone("check worker did not start")
            self._reader = asyncio.create_task(self._read(self.proc))

    async def _read(self, proc: asyncio.subprocess.Process) -> None:
        assert proc.stdout
        try:
            while True:
                size = int.from_bytes(await proc.stdout.readexactly(4), "big")
                rid, ok, value = pickle.loads(await proc.stdout.readexactly(size))
                fut = self.pending.pop(rid, None)
                if fut is None or fut.done():
                    continue  # timed out meanwhile
                if ok:
                    fut.set_result(value)
                else:
                    fut.set_exception(_error_from(*value))
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        for fut in self.pending.values():
            if not fut.done():
                fut.set_exception(WorkerGone("check worker stopped unexpectedly"))
        self.pending.clear()

    async def inspect(self, method: str, url: str, headers: dict[str, str], body: bytes,
                      max_bytes: int, timeout: float) -> Inspection:
        """The worker's inspection of one request; raises TimeoutError after `timeout` seconds."""
        return await self._ask(("http", (method, url, headers, body, max_bytes)), timeout)

    async def inspect_websocket(self, url: str, message: bytes, timeout: float) -> Inspection:
        """The worker's inspection of one websocket message."""
        return await self._ask(("websocket", (url, message)), timeout)

    async def _ask(self, job: tuple[str, tuple[Any, ...]], timeout: float) -> Inspection:
        await self.start()
        assert self.proc and self.proc.stdin
        self._next += 1
        rid = self._next
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self.pending[rid] = fut
        data = pickle.dumps((rid, job), protocol=pickle.HIGHEST_PROTOCOL)
        self.proc.stdin.write(len(data).to_bytes(4, "big") + data)
        try:
            result: Inspection = await asyncio.wait_for(fut, timeout)
            return result
        except TimeoutError:
            # Past its budget: the process is killed (a check cannot be interrupted otherwise)
            # and the pool replaces it.
            self.stop()
            raise
        finally:
            self.pending.pop(rid, None)

    @property
    def usable(self) -> bool:
        """Not stopped or dead (a worker not started yet is usable: it starts on first use)."""
        return self.proc is None and not self._stopped or self._alive()

    def stop(self) -> None:
        """Stop the process (its stdin closes; it is killed if still running)."""
        self._stopped = True
        if self.proc is not None:
            if self.proc.returncode is None:
                try:
                    self.proc.kill()
                except ProcessLookupError:
                    pass
            # Close the pipes now: left to the garbage collector they may outlive the loop.
            transport = getattr(self.proc, "_transport", None)
            if transport is not None:
                transport.close()
        self.proc = None


class Checks:
    """Runs inspections off the event loop: on worker processes, or on threads (`n_workers` 0,
    or an injected checker, which only exists in this process)."""

    def __init__(self, checker: Checker | None) -> None:
        """`checker`: a replacement for `checker.check` (tests); forces threads."""
        self.injected = checker is not None
        self.check: Checker = checker or check
        self.pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="postguard-check")
        self.workers: list[CheckWorker] = []
        self.replaced = 0  # workers killed past their budget or found dead, and replaced
        self._idle: asyncio.Queue[CheckWorker] | None = None
        self._policy_dir = ""
        self._encoder = True
        self._starting: set[asyncio.Task[None]] = set()

    def configure(self, policy: Policy, n_workers: int, encoder: bool) -> None:
        """(Re)build the worker pool for this policy; workers start on first use or `start`."""
        self.stop_workers()
        # The folder the link points at now (a swapped link must not change a running pool's policy)
        self._policy_dir, self._encoder = os.path.realpath(policy.data.path), encoder
        if n_workers > 0 and not self.injected:
            self.workers = [CheckWorker(self._policy_dir, encoder) for _ in range(n_workers)]

    async def swap(self, policy: Policy) -> None:
        """Move to `policy` without dropping a check: warm a new set of workers on it, then route
        new checks to them and retire the old ones as they finish. Raises (WorkerGone, or the
        cancellation) with the old set still in place when a new worker does not start."""
        if not self.workers:
            return  # threads: the caller's policy is passed with each check
        folder = os.path.realpath(policy.data.path)
        fresh = [CheckWorker(folder, self._encoder) for _ in self.workers]
        try:
            await asyncio.gather(*(w.start() for w in fresh))
        except BaseException:
            for w in fresh:
                w.stop()
            raise
        idle = self._idle_queue()
        self.workers, self._policy_dir = fresh, folder
        while not idle.empty():
            idle.get_nowait().stop()   # idle old workers: nothing in flight
        for w in fresh:
            idle.put_nowait(w)         # wakes checks waiting for a worker, onto the new policy

    async def start(self) -> None:
        """Start every worker now (with the proxy, not on the first post)."""
        await asyncio.gather(*(w.start() for w in self.workers), return_exceptions=True)

    def _idle_queue(self) -> asyncio.Queue[CheckWorker]:
        if self._idle is None:
            self._idle = asyncio.Queue()
            for w in self.workers:
                self._idle.put_nowait(w)
        return self._idle

    def _give_back(self, worker: CheckWorker) -> None:
        """Return a worker to the pool after a job, or a fresh one in place of a dead one."""
        if worker not in self.workers:
            worker.stop()  # retired by a swap or a rebuild while it checked: its check is answered
            return
        if not worker.usable:
            fresh = CheckWorker(self._policy_dir, self._encoder)
            self.workers[self.workers.index(worker)] = fresh
            self.replaced += 1
            task = asyncio.get_running_loop().create_task(self._warm(fresh))
            self._starting.add(task)
            task.add_done_callback(self._starting.discard)
            worker = fresh
        self._idle_queue().put_nowait(worker)

    @staticmethod
    async def _warm(worker: CheckWorker) -> None:
        try:
            await worker.start()
        except Exception:  # it is tried again by the first job that gets it
            pass

    async def _on_worker(self, job: Callable[[CheckWorker], Awaitable[Inspection]], timeout: float) -> Inspection:
        idle = self._idle_queue()
        try:
            worker = await asyncio.wait_for(idle.get(), timeout)
        except TimeoutError:
            raise TimeoutError(f"every check worker stayed busy for {timeout * 1000:.0f} ms") from None
        try:
            return await job(worker)
        finally:
            self._give_back(worker)

    async def request(self, method: str, url: str, headers: dict[str, str], body: bytes, policy: Policy,
                      max_bytes: int, timeout: float) -> Inspection:
        """Inspect one request within `timeout` seconds (TimeoutError past it)."""
        if self.workers:
            return await self._on_worker(
                lambda w: w.inspect(method, url, headers, body, max_bytes, timeout), timeout)
        loop = asyncio.get_running_loop()
        job = loop.run_in_executor(self.pool, lambda: inspect_request(
            method, url, headers, body, policy, max_bytes=max_bytes, checker=self.check))
        return await asyncio.wait_for(job, timeout)

    async def websocket(self, url: str, message: bytes, policy: Policy, timeout: float) -> Inspection:
        """Inspect one websocket message within `timeout` seconds."""
        if self.workers:
            return await self._on_worker(lambda w: w.inspect_websocket(url, message, timeout), timeout)
        loop = asyncio.get_running_loop()
        job = loop.run_in_executor(self.pool, lambda: inspect_websocket(url, message, policy, checker=self.check))
        return await asyncio.wait_for(job, timeout)

    def stop_workers(self) -> None:
        """Stop every worker process (and replacements still starting)."""
        for task in list(self._starting):
            task.cancel()
        for w in self.workers:
            w.stop()
        self.workers = []
        self._idle = None

    def close(self) -> None:
        """Stop the threads and the processes."""
        self.pool.shutdown(wait=False, cancel_futures=True)
        self.stop_workers()


def serve(policy_dir: str, encoder: bool = True) -> int:
    """The worker process: answer (id, ("http", (method, url, headers, body, max_bytes))) and
    (id, ("websocket", (url, message))) frames on stdin with
    (id, ok, Inspection | (error class name, message)) on stdout."""
    from checker import load_policy
    from checker.neural import disable_encoders, warm_encoders

    policy = load_policy(policy_dir)
    if encoder:
        warm_encoders()  # before "ready", so the first post is not the slow one
    else:
        disable_encoders(policy)
    rd, wr = sys.stdin.buffer, sys.stdout.buffer
    wr.write(b"PGW1")  # ready
    wr.flush()
    while True:
        head = rd.read(4)
        if len(head) < 4:
            return 0
        rid, (kind, args) = pickle.loads(rd.read(int.from_bytes(head, "big")))
        out: tuple[int, bool, Any]
        try:
            if kind == "websocket":
                url, message = args
                out = (rid, True, inspect_websocket(url, message, policy))
            else:
                method, url, headers, body, max_bytes = args
                out = (rid, True, inspect_request(method, url, headers, body, policy, max_bytes=max_bytes))
        except Exception as e:  # sent back by class name and message, re-raised in the proxy
            out = (rid, False, (type(e).__name__, str(e)[:500]))
        data = pickle.dumps(out, protocol=pickle.HIGHEST_PROTOCOL)
        wr.write(len(data).to_bytes(4, "big") + data)
        wr.flush()
