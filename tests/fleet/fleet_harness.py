"""The parts of the fleet test, each a real process: a private PostgreSQL cluster (initdb/pg_ctl in a
temporary folder on a port of its own, so stopping it disturbs nobody), `postguard server`, and
`postguard agent run` in network namespaces joined by a bridge (a link is cut by taking a veth down),
plus sources of events written to each agent's queue the way its proxy writes them."""

from __future__ import annotations

import glob
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

from store import Event, StoreConfig, open_store
from store.db import Conn, migrate

PY = [sys.executable, "-m", "postguard"]
FULL = StoreConfig(content_mode="full", retention_days=0)


def sh(*argv: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run a command; its output in the error when it fails."""
    r = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    if check and r.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} exited {r.returncode}: {r.stderr.strip() or r.stdout.strip()}")
    return r


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def until(cond: Callable[[], Any], seconds: float, what: str, every: float = 0.2) -> Any:
    """Poll `cond` until it is truthy; AssertionError naming `what` after `seconds`."""
    deadline = time.monotonic() + seconds
    while True:
        got = cond()
        if got:
            return got
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {seconds:.0f} s waiting for {what}")
        time.sleep(every)


def pg_bin() -> Path | None:
    """The newest PostgreSQL's binaries folder (Debian layout), or None."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), key=lambda p: int(p.split("/")[4]))
    return Path(found[-1]).parent if found else None


class PrivatePostgres:
    """A PostgreSQL cluster of the test's own: initdb in a temporary folder, served on 127.0.0.1:PORT
    by the `postgres` account (PostgreSQL refuses to run as root)."""

    def __init__(self, bindir: Path) -> None:
        self.bin = bindir
        self.root = Path(tempfile.mkdtemp(prefix="pgfleet-"))
        self.data = self.root / "data"
        self.port = free_port()
        self.as_user: list[str] = []
        if os.geteuid() == 0:
            shutil.chown(self.root, "postgres", "postgres")
            self.as_user = ["runuser", "-u", "postgres", "--"]
        sh(*self.as_user, str(self.bin / "initdb"), "-D", str(self.data), "-U", "postgres", "--auth=trust",
           "-E", "UTF8", "--no-sync", "--no-instructions")

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def start(self) -> None:
        opts = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off"
        sh(*self.as_user, str(self.bin / "pg_ctl"), "-D", str(self.data), "-o", opts, "-l",
           str(self.root / "log.txt"), "-w", "-t", "30", "start")

    def stop(self, mode: str = "immediate") -> None:
        """Stop it; `immediate` is a crash as far as the clients can tell."""
        sh(*self.as_user, str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop", check=False)

    def close(self) -> None:
        self.stop("fast")
        shutil.rmtree(self.root, ignore_errors=True)


class Network:
    """A bridge with an address for the server, and one namespace per agent on a veth pair."""

    def __init__(self, n: int) -> None:
        self.tag = secrets.token_hex(3)
        self.subnet = self._free_subnet()
        self.bridge = f"pgb{self.tag}"
        self.server_ip = f"{self.subnet}.1"
        self.spaces: list[str] = []
        self.host_ends: list[str] = []
        sh("ip", "link", "add", self.bridge, "type", "bridge")
        sh("ip", "addr", "add", f"{self.server_ip}/24", "dev", self.bridge)
        sh("ip", "link", "set", self.bridge, "up")
        for i in range(n):
            ns, host_end, ns_end = f"pgfleet-{self.tag}-{i}", f"pgv{self.tag}{i}", f"pgn{self.tag}{i}"
            sh("ip", "netns", "add", ns)
            self.spaces.append(ns)
            sh("ip", "link", "add", host_end, "type", "veth", "peer", "name", ns_end)
            self.host_ends.append(host_end)
            sh("ip", "link", "set", ns_end, "netns", ns)
            sh("ip", "link", "set", host_end, "master", self.bridge)
            sh("ip", "link", "set", host_end, "up")
            sh("ip", "netns", "exec", ns, "ip", "addr", "add", f"{self.subnet}.{10 + i}/24", "dev", ns_end)
            sh("ip", "netns", "exec", ns, "ip", "link", "set", ns_end, "up")
            sh("ip", "netns", "exec", ns, "ip", "link", "set", "lo", "up")

    @staticmethod
    def _free_subnet() -> str:
        used = sh("ip", "-4", "-o", "addr").stdout
        for _ in range(50):
            net = f"10.{secrets.choice(range(200, 250))}.{secrets.choice(range(1, 250))}"
            if f" {net}." not in used:
                return net
        raise RuntimeError("no free 10.x.y.0/24 for the test network")

    def cut(self, i: int) -> None:
        """Take agent i's link down (its packets go nowhere)."""
        sh("ip", "link", "set", self.host_ends[i], "down")

    def mend(self, i: int) -> None:
        sh("ip", "link", "set", self.host_ends[i], "up")

    def close(self) -> None:
        for ns in self.spaces:
            sh("ip", "netns", "del", ns, check=False)  # takes its veth pair with it
        sh("ip", "link", "del", self.bridge, check=False)


class Proc:
    """A process whose output goes to a file (read in a failure message)."""

    def __init__(self, argv: list[str], log: Path, cwd: Path, env: dict[str, str] | None = None) -> None:
        self.argv, self.log, self.cwd, self.env = argv, log, cwd, env
        self.p: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        f = open(self.log, "ab")
        f.write(f"---- start {time.strftime('%H:%M:%S')}\n".encode())
        f.flush()
        self.p = subprocess.Popen(self.argv, stdout=f, stderr=subprocess.STDOUT, cwd=self.cwd,
                                  env={**os.environ, "POSTGUARD_DB": "", **(self.env or {})})
        f.close()

    def signal(self, sig: int) -> None:
        if self.p is not None and self.p.poll() is None:
            self.p.send_signal(sig)

    def wait(self, seconds: float = 30) -> int:
        assert self.p is not None
        return self.p.wait(seconds)

    def alive(self) -> bool:
        return self.p is not None and self.p.poll() is None

    def tail(self, n: int = 40) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return ""

    def kill(self) -> None:
        if self.p is not None and self.p.poll() is None:
            self.p.kill()
            self.p.wait(10)


class Server(Proc):
    """`postguard server` on the bridge's address."""

    def __init__(self, db: str, host: str, folder: Path, interval: int = 5) -> None:
        self.port = free_port()
        self.url = f"http://{host}:{self.port}"
        self.db = db
        super().__init__([*PY, "server", "--db", db, "--listen", f"{host}:{self.port}", "--heartbeat-interval",
                          str(interval), "--signing-key", str(folder / "signing.key")], folder / "server.log", folder)

    def healthy(self) -> bool:
        try:
            with urllib.request.urlopen(self.url + "/api/v1/health", timeout=2) as r:
                return r.status == 200
        except OSError:
            return False

    def start_ready(self) -> None:
        self.start()
        until(self.healthy, 60, f"the server at {self.url}\n{self.tail()}")

    def query(self, sql: str, params: tuple[Any, ...] = ()) -> list[dict[str, Any]]:
        c = Conn(self.db)
        try:
            migrate(c)
            return c.all(sql, params)
        finally:
            c.close()


class Agent(Proc):
    """`postguard agent run` inside a network namespace, with its state folder."""

    def __init__(self, ns: str, state: Path, *extra: str) -> None:
        self.ns, self.state = ns, state
        state.mkdir(parents=True, exist_ok=True)
        super().__init__(["ip", "netns", "exec", ns, *PY, "agent", "run", "--state", str(state), "--max-backoff", "2",
                          *extra], state.parent / f"{state.name}.log", state.parent)

    def enroll(self, url: str, code: str, hostname: str) -> str:
        r = sh("ip", "netns", "exec", self.ns, *PY, "agent", "enroll", url, code, "--state", str(self.state),
               "--hostname", hostname, "--json")
        return str(json.loads(r.stdout)["device_id"])

    def status(self) -> dict[str, Any]:
        try:
            return dict(json.loads((self.state / "status.json").read_text()))
        except (OSError, ValueError):
            return {}

    def waiting(self, device: str) -> int:
        c = Conn(str(self.state / "queue.sqlite"))
        try:
            migrate(c)
            return int(c.scalar("SELECT COUNT(*) FROM events WHERE device = ?", (device,)))
        finally:
            c.close()


class EventSource:
    """Appends events to an agent's queue from a thread, as its proxy would, and remembers every
    uid the local store committed (flush answered that nothing waits in a spool)."""

    def __init__(self, queue: Path, device: str, per_tick: int = 10, tick: float = 0.1) -> None:
        self.store = open_store(str(queue), FULL, device=device, employee="a.teacher", auto_purge=False)
        self.per_tick, self.tick = per_tick, tick
        self.uids: list[str] = []
        self.acknowledged: list[str] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def burst(self, n: int) -> None:
        """Append `n` events now and wait for them to be committed locally."""
        got = [self.store.append(Event(source="proxy", action="warned", site="x.com", text=f"backlog {i}"))
               for i in range(n)]
        self.uids += got
        if self.store.flush(60):
            self.acknowledged = list(self.uids)

    def _run(self) -> None:
        i = 0
        while not self._stop.is_set():
            for _ in range(self.per_tick):
                self.uids.append(self.store.append(Event(source="extension", action="logged", site="x.com",
                                                         text=f"live {i}")))
                i += 1
            if self.store.flush(60):
                self.acknowledged = list(self.uids)
            self._stop.wait(self.tick)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(30)
        assert self.store.flush(60), "events left in the local spool"
        self.acknowledged = list(self.uids)

    def close(self) -> None:
        self._stop.set()
        self.store.close()


def cli(*argv: str) -> tuple[int, str]:
    """`postguard ARGV` as a process: (exit code, stdout)."""
    r = subprocess.run([*PY, *argv], capture_output=True, text=True, timeout=60,
                       env={**os.environ, "POSTGUARD_DB": ""})
    return r.returncode, r.stdout + r.stderr


def stop_all(procs: list[Proc]) -> None:
    for p in procs:
        p.signal(signal.SIGTERM)
    for p in procs:
        try:
            p.wait(20)
        except subprocess.TimeoutExpired:
            p.kill()
