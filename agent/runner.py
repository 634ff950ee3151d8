"""`postguard agent run`: the proxy and the extension backend writing to the local queue, the
forwarder moving the queue to the server, heartbeats, and `agent-start` / `agent-stop` events.

Only one agent runs per state folder (a lock file). The proxy and the backend are child processes
(`postguard proxy`, `postguard backend`) with the queue as their `--db`, the device id as their
device and POSTGUARD_AGENT_QUEUE=1 (synchronous commits, no local purge), and STATE/policy/current
as their `--policy`: the signed bundle the policy sync installed (agent/policy_sync.py), or until
the first one arrives a copy of the folder the agent was started with. They follow that link on
their own, so a new policy needs no restart. The forwarder, the heartbeat and the policy sync are
the parts that talk to the server.
"""

from __future__ import annotations

import asyncio
import fcntl
import logging
import os
import signal
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import aiohttp

from agent.ca import renew_for_policy, run_ca
from agent.client import DeviceAPI, tls_context
from agent.events import AGENT_START, AGENT_STOP, POLICY_REFUSED, POLICY_UPDATED, agent_event
from agent.forwarder import Forwarder, ForwarderConfig
from agent.heartbeat import Components, Heartbeat
from agent.policy_dir import Installed, PolicyDir, Refused
from agent.policy_sync import DEFAULT_EVERY, PolicySync
from agent.queue import LocalQueue
from agent.state import Device, StateDir, StateError, read_status, write_status
from agent.supervise import Child, stop_all
from checker import DEFAULT_POLICY_DIR
from store.db import AGENT_QUEUE_ENV
from store.event import iso

log = logging.getLogger("postguard.agent")
STATUS_EVERY = 2.0
STARTUP_GRACE = 30.0  # seconds a proxy or backend may take to answer after it (re)started


@dataclass
class RunOptions:
    """What `postguard agent run` was asked to start."""

    state: StateDir
    policy_dir: str | None = None
    proxy_listen: tuple[str, int] | None = ("127.0.0.1", 8080)    # None: no proxy on this computer
    backend_listen: tuple[str, int] | None = ("127.0.0.1", 8731)  # None: no extension backend
    confdir: Path | None = None        # the proxy's CA folder (default: STATE/mitmproxy)
    token_file: Path | None = None     # the backend's install token (default: STATE/backend.token)
    proxy_sets: list[str] = field(default_factory=list)
    forwarder: ForwarderConfig = field(default_factory=ForwarderConfig)
    drain_seconds: float = 5.0         # at a clean stop, how long to keep uploading
    policy_every: float = DEFAULT_EVERY  # seconds between policy bundle fetches


def lock(state: StateDir) -> IO[str]:
    """Hold the folder's lock for as long as the returned file is open; StateError when another
    agent holds it."""
    state.ensure()
    f = open(state.root / "agent.lock", "a+", encoding="utf-8")
    try:
        fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        f.close()
        raise StateError(f"another agent is running on {state.root}") from None
    return f


def is_running(state: StateDir) -> bool:
    """Whether an agent holds the folder's lock right now."""
    path = state.root / "agent.lock"
    if not path.exists():
        return False
    with open(path, "a+", encoding="utf-8") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            return True
        fcntl.flock(f, fcntl.LOCK_UN)
    return False


def children(opts: RunOptions, device: Device) -> list[Child]:
    """The proxy and backend processes to supervise."""
    from extension.backend import EXTENSION_ID

    env = {**os.environ, AGENT_QUEUE_ENV: "1", "POSTGUARD_DEVICE": device.device_id}
    env.pop("POSTGUARD_DB", None)
    queue = str(opts.state.queue)
    policy = ["--policy", str(PolicyDir(opts.state.policy).current)]
    out: list[Child] = []
    if opts.proxy_listen:
        host, port = opts.proxy_listen
        confdir = run_ca(opts.state, policy[-1] if policy else None, device.device_id, opts.confdir)  # agent/ca.py
        sets = [f"postguard_device={device.device_id}", "upstream_cert=false",  # leaves name only the host (ca.py)
                # a JSON "Post anyway" is accepted only from the extension (its pinned id), not a site's scripts
                f"postguard_override_origins=chrome-extension://{EXTENSION_ID}",
                *([f"postguard_staff={device.user}"] if device.user else []), *opts.proxy_sets]
        out.append(Child("proxy", [sys.executable, "-m", "postguard", "proxy", "--db", queue, *policy,
                                   "--listen", f"{host}:{port}", "--confdir", str(confdir),
                                   *(a for s in sets for a in ("--set", s))], env))
    if opts.backend_listen:
        host, port = opts.backend_listen
        token = opts.token_file or opts.state.root / "backend.token"
        out.append(Child("backend", [sys.executable, "-m", "postguard", "backend", "--db", queue, *policy,
                                     "--listen", f"{host}:{port}", "--token-file", str(token),
                                     *(["--staff", device.user] if device.user else [])], env))
    return out


class Agent:
    """One run of the agent."""

    def __init__(self, opts: RunOptions, device: Device, key: Any, policy_digest: str, version: str) -> None:
        self.opts = opts
        self.device = device
        self.key = key
        self.digest = policy_digest
        self.version = version
        self.queue = LocalQueue(opts.state.queue, device.device_id)
        self.children = children(opts, device)
        self.stop = asyncio.Event()
        self.started = time.time()
        self.forwarder: Forwarder | None = None
        self.heartbeat: Heartbeat | None = None
        self.policy_sync: PolicySync | None = None

    def _event(self, kind: str, detail: str | None = None) -> dict[str, Any]:
        """One of the agent's own events, naming the computer's assigned user when it has one."""
        return agent_event(kind, self.device.device_id, self.digest, detail, user=self.device.user)

    def _previous_run(self) -> str | None:
        """Why the last run ended, when it did not stop cleanly (we hold the lock: it is not running)."""
        prev = read_status(self.opts.state)
        if prev and prev.get("running") and prev.get("device_id") == self.device.device_id:
            return "the previous run ended without a clean stop (killed, crashed or powered off)"
        return None

    def starting(self, name: str) -> bool:
        """Whether the named child started (or restarted) less than STARTUP_GRACE seconds ago."""
        return any(c.name == name and c.alive() and time.monotonic() - c.started < STARTUP_GRACE
                   for c in self.children)

    def status(self, running: bool) -> dict[str, Any]:
        """What status.json holds."""
        return {"pid": os.getpid(), "running": running, "device_id": self.device.device_id,
                "server": self.device.server, "version": self.version, "policy_digest": self.digest,
                "started_at": iso(self.started), "updated_at": iso(None),
                "queue_limit": self.opts.forwarder.queue_limit,
                # the proxy's CA folder when not STATE/mitmproxy (`agent status` reads the CA there)
                "confdir": str(self.opts.confdir) if self.opts.confdir else None,
                "components": {c.name: {"pid": c.proc.pid if c.proc else None, "alive": c.alive(),
                                        "exits": c.exits[-5:]} for c in self.children},
                "forwarder": self.forwarder.state.to_json() if self.forwarder else None,
                "heartbeat": self.heartbeat.state.to_json() if self.heartbeat else None,
                "policy": self.policy_sync.state.to_json() if self.policy_sync else None}

    async def _installed(self, got: Installed) -> None:
        """A new signed policy is `current` (the children pick it up): report and record it."""
        self.digest = got.policy_digest
        if self.heartbeat is not None:
            self.heartbeat.policy_digest, self.heartbeat.policy_version = got.policy_digest, got.version
            self.heartbeat.policy_refused = None
        await self.queue.append(self._event(POLICY_UPDATED, f"version {got.version}"))
        proxy = next((c for c in self.children if c.name == "proxy"), None)
        if proxy is not None and await asyncio.to_thread(renew_for_policy, self.opts.state, got.path,
                                                         self.device.device_id, self.opts.confdir):
            await asyncio.to_thread(proxy.stop)  # mitmproxy loads its CA at start: _tend starts it again

    async def _refused(self, reason: str) -> None:
        """A bundle was refused; the last good policy stays."""
        if self.heartbeat is not None:
            self.heartbeat.policy_refused = reason[:200]
        await self.queue.append(self._event(POLICY_REFUSED, reason))

    async def _tend(self) -> None:
        """Keep the children running and status.json fresh until stopped."""
        while not self.stop.is_set():
            for c in self.children:
                c.tend()
            try:
                await asyncio.to_thread(write_status, self.opts.state, self.status(True))
            except OSError as e:
                log.error("cannot write %s: %s", self.opts.state.status_file, e.strerror)
            try:
                await asyncio.wait_for(self.stop.wait(), STATUS_EVERY)
            except TimeoutError:
                pass

    async def run(self) -> int:
        """Start everything, run until SIGINT/SIGTERM, stop cleanly."""
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, self.stop.set)
        await self.queue.append(self._event(AGENT_START, self._previous_run()))
        for c in self.children:
            c.start()
        ctx = tls_context(self.device.ca_file)
        async with aiohttp.ClientSession() as session:
            api = DeviceAPI(self.device.server, self.device.device_id, self.key, session, ssl_context=ctx)
            self.forwarder = Forwarder(api, self.queue, self.opts.forwarder)
            self.heartbeat = Heartbeat(api, self.queue, session, Components(self.opts.proxy_listen,
                                                                           self.opts.backend_listen, self.starting),
                                       version=self.version, policy_digest=self.digest,
                                       queue_limit=self.opts.forwarder.queue_limit,
                                       interval=self.device.heartbeat_interval)
            folder = PolicyDir(self.opts.state.policy)
            self.policy_sync = PolicySync(api, folder, self.device.server_key, on_installed=self._installed,
                                          on_refused=self._refused, every=self.opts.policy_every)
            self.heartbeat.policy_version = self.policy_sync.state.version
            tasks = [asyncio.create_task(self.forwarder.run(self.stop), name="forwarder"),
                     asyncio.create_task(self.policy_sync.run(self.stop), name="policy"),
                     asyncio.create_task(self.heartbeat.run(self.stop), name="heartbeat"),
                     asyncio.create_task(self._tend(), name="supervisor")]
            log.info("agent %s running: server %s, queue %s", self.device.device_id, self.device.server,
                     self.opts.state.queue)
            await self.stop.wait()
            log.info("stopping")
            await asyncio.gather(*tasks, return_exceptions=True)
            await asyncio.to_thread(stop_all, self.children)
            await self.queue.append(self._event(AGENT_STOP))
            empty = await self.forwarder.drain(self.opts.drain_seconds)
            left = (await self.queue.stats()).depth
            log.info("stopped; %s", "every event is on the server" if empty else
                     f"{left} event(s) wait in the queue for the next start")
        write_status(self.opts.state, {**self.status(False), "stopped_at": iso(None)})
        await asyncio.to_thread(self.queue.close)
        return 0


def setup_logging() -> None:
    """The agent's messages on stderr, one line each."""
    root = logging.getLogger("postguard.agent")
    if not root.handlers:
        h = logging.StreamHandler(sys.stderr)
        h.setFormatter(logging.Formatter("postguard agent: %(levelname)s %(message)s"))
        root.addHandler(h)
        root.setLevel(logging.INFO)
        root.propagate = False


def run_agent(opts: RunOptions, policy_digest: str, version: str) -> int:
    """Run the agent on `opts.state` until stopped; StateError when not enrolled or already running."""
    setup_logging()
    held = lock(opts.state)
    try:
        device = opts.state.load_device()
        key = opts.state.load_key()
        os.environ[AGENT_QUEUE_ENV] = "1"  # this process's own commits to the queue too
        try:
            installed = PolicyDir(opts.state.policy).seed(Path(opts.policy_dir or DEFAULT_POLICY_DIR))
        except Refused as e:
            raise StateError(f"policy: {e}") from None
        if installed.version:
            log.info("policy: signed version %d (digest %s)", installed.version, installed.policy_digest)
        return asyncio.run(Agent(opts, device, key, installed.policy_digest, version).run())
    finally:
        held.close()
