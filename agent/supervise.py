"""The agent's child processes (the proxy and the extension backend): started with the queue as
their log, restarted with a growing delay when one dies, stopped with SIGINT then SIGKILL.

On Linux each child asks the kernel for SIGTERM when the agent dies (PR_SET_PDEATHSIG), so an
agent killed with SIGKILL leaves no proxy holding its port for the next start.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field

log = logging.getLogger("postguard.agent")
RESTART_MAX = 60.0
STABLE_SECONDS = 60.0  # up this long: the next crash restarts it at once again
PR_SET_PDEATHSIG = 1


def _die_with_parent() -> Callable[[], None] | None:
    """A pre-exec function tying the child's life to this process (Linux only; libc loaded here,
    before any fork, since the child must not load libraries between fork and exec)."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    except OSError:
        return None
    parent = os.getpid()

    def pre_exec() -> None:
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
        if os.getppid() != parent:  # the agent died before the line above ran
            os._exit(1)
    return pre_exec


@dataclass
class Child:
    """One supervised service."""

    name: str
    argv: list[str]
    env: dict[str, str]
    proc: subprocess.Popen[bytes] | None = None
    started: float = 0.0
    crashes: int = 0
    restart_at: float = 0.0
    exits: list[int] = field(default_factory=list)

    def start(self) -> None:
        """Start the process (its output goes to the agent's). Call it from the main thread: the
        kernel's parent-death signal follows the thread that forked, not the process."""
        self.proc = subprocess.Popen(self.argv, env=self.env, preexec_fn=_die_with_parent())
        self.started = time.monotonic()
        log.info("%s started (pid %d)", self.name, self.proc.pid)

    def alive(self) -> bool:
        """Whether the process is running."""
        return self.proc is not None and self.proc.poll() is None

    def tend(self, now: float | None = None) -> None:
        """Notice a death and restart when its delay is over."""
        now = time.monotonic() if now is None else now
        if self.proc is not None and self.proc.poll() is not None:
            code = self.proc.returncode
            self.exits.append(code)
            self.crashes = 0 if now - self.started >= STABLE_SECONDS else self.crashes + 1
            delay = min(RESTART_MAX, 2.0 ** self.crashes) if self.crashes else 0.5
            log.error("%s exited with code %s; restarting in %.0f s", self.name, code, delay)
            self.proc, self.restart_at = None, now + delay
        if self.proc is None and now >= self.restart_at:
            try:
                self.start()
            except OSError as e:
                self.crashes += 1
                self.restart_at = now + min(RESTART_MAX, 2.0 ** self.crashes)
                log.error("%s could not start: %s", self.name, e.strerror)

    def stop(self, timeout: float = 10.0) -> None:
        """SIGINT (a clean stop: the service writes what it has queued), SIGKILL after `timeout`."""
        p = self.proc
        if p is None or p.poll() is not None:
            return
        p.send_signal(signal.SIGINT)
        try:
            p.wait(timeout)
        except subprocess.TimeoutExpired:
            log.error("%s did not stop within %.0f s; killing it", self.name, timeout)
            p.kill()
            p.wait()


def stop_all(children: list[Child], timeout: float = 10.0) -> None:
    """Stop every child, together: SIGINT to all, then wait for each."""
    for c in children:
        if c.alive() and c.proc is not None:
            c.proc.send_signal(signal.SIGINT)
    deadline = time.monotonic() + timeout
    for c in children:
        c.stop(max(0.1, deadline - time.monotonic()))


def pid_alive(pid: int) -> bool:
    """Whether a process with this id exists."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
