"""`postguard run`: postguard on one machine, as a district runs it but on loopback: the district
server (device API and IT console, SQLite by default) and an agent (the checking proxy, the
extension's backend, the forwarder and heartbeats), enrolled with the server on first start."""

from __future__ import annotations

import argparse
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from postguard.cli import UsageError
from postguard.commands._common import add_policy_arg, policy_from
from postguard.commands.console import parse_listen

DEFAULTS = {"server": "127.0.0.1:8733", "proxy": "127.0.0.1:8080", "backend": "127.0.0.1:8731"}
STATE = "var/agent"


def register(sub: argparse._SubParsersAction) -> None:
    """Add the `run` parser."""
    p = sub.add_parser("run", help="start postguard on this machine (a server and an enrolled agent)",
                       description=__doc__)
    add_policy_arg(p)
    p.add_argument("--db", metavar="DB", help="the server's database: SQLite path or postgresql:// URL "
                   "(default: $POSTGUARD_DB or ./var/postguard.sqlite)")
    for name, addr in DEFAULTS.items():
        p.add_argument(f"--{name}-listen", metavar="HOST:PORT", default=addr, help=f"{name} address (default {addr})")
    p.add_argument("--confdir", metavar="DIR", default="var/mitmproxy",
                   help="where the proxy keeps its CA (default var/mitmproxy)")
    p.add_argument("--state", metavar="DIR", default=STATE, help=f"the agent's state folder (default {STATE})")
    p.add_argument("--token-file", metavar="FILE", default="var/backend.token",
                   help="the extension backend's install token (default var/backend.token)")
    p.add_argument("--no-proxy", action="store_true", help="run the agent without the proxy")
    p.add_argument("--no-backend", action="store_true", help="run the agent without the extension backend")
    p.set_defaults(func=run)


def wait_healthy(url: str, proc: subprocess.Popen[bytes], seconds: float = 60) -> None:
    """Wait until the server answers /api/v1/health; UsageError when it exits or never does."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise UsageError(f"the server exited with code {proc.returncode} before it was ready")
        try:
            with urllib.request.urlopen(url + "/api/v1/health", timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise UsageError(f"the server at {url} did not answer within {seconds:.0f} s")


def needs_enrolment(state_dir: Path, url: str, db: str) -> str | None:
    """Why the agent must be enrolled (again) with this server, or None when it already is."""
    from agent.state import StateDir, StateError
    from store import devices
    from store.db import Conn, migrate

    state = StateDir(state_dir)
    if not state.enrolled():
        return "not enrolled yet"
    try:
        device = state.load_device()
    except StateError as e:
        return str(e)
    if device.server != url:
        return f"enrolled with another server ({device.server})"
    conn = Conn(db)
    try:
        migrate(conn)
        key = devices.public_key(conn, device.device_id)
    finally:
        conn.close()
    if key is None:
        return f"the server does not know {device.device_id} (a new database?)"
    if key[1]:
        return f"{device.device_id} was revoked"
    return None


def enrol_here(state_dir: Path, url: str, db: str) -> str:
    """Make a one-time code in the server's database and enrol the agent with it; its device id."""
    from agent.enroll import enroll_device
    from agent.state import StateDir, StateError
    from postguard import __version__
    from store import devices
    from store.db import Conn

    conn = Conn(db)
    try:
        code = devices.make_codes(conn, 1, 600, "postguard run")[0][0]
    finally:
        conn.close()
    try:
        d = enroll_device(StateDir(state_dir), url, code, version=__version__, name="this computer (postguard run)",
                          force=True)
    except StateError as e:
        raise UsageError(f"enrolling the agent: {e}") from None
    return d.device_id


def run(args: argparse.Namespace) -> int:
    """Start the server, enrol the agent if needed, start the agent; stop both on Ctrl-C or when one dies."""
    from store import default_db
    from store.db import describe

    policy = policy_from(args)  # fail fast, with a clear message, before starting anything
    db = args.db or default_db()
    if "://" not in db:
        Path(db).parent.mkdir(parents=True, exist_ok=True)
    host, port = parse_listen(args.server_listen)
    url = f"http://{host}:{port}"
    pol = ["--policy", args.policy] if args.policy else []
    print(f"postguard: policy {policy.data.slug} ({policy.district.name}), digest {policy.digest}")
    print(f"postguard: {policy.data.notice}")
    server = subprocess.Popen([sys.executable, "-m", "postguard", "server", "--db", db, "--listen",
                               args.server_listen, *pol])
    procs = {"server": server}
    code = 0

    def on_term(signum: int, frame: object) -> None:
        raise KeyboardInterrupt  # stop the children too, as on Ctrl-C

    signal.signal(signal.SIGTERM, on_term)
    try:
        wait_healthy(url, server)
        state = Path(args.state)
        if why := needs_enrolment(state, url, db):
            device = enrol_here(state, url, db)
            print(f"postguard: agent enrolled as {device} ({why})")
        agent = ["agent", "run", "--state", str(state), "--proxy-listen", args.proxy_listen, "--backend-listen",
                 args.backend_listen, "--confdir", args.confdir, "--token-file", args.token_file, *pol]
        agent += ["--no-proxy"] if args.no_proxy else []
        agent += ["--no-backend"] if args.no_backend else []
        procs["agent"] = subprocess.Popen([sys.executable, "-m", "postguard", *agent])
        _say_where(args, url, describe(db), state)
        code = _watch(procs)
    except KeyboardInterrupt:
        pass
    finally:
        _stop(procs)
    return code


def _say_where(args: argparse.Namespace, url: str, db: str, state: Path) -> None:
    print(f"postguard: server and IT console on {url}/ (database {db})")
    if not args.no_proxy:
        print(f"postguard: proxy on {args.proxy_listen}; its CA certificate: {args.confdir}/mitmproxy-ca-cert.pem "
              f"(see docs/proxy.md)")
    if not args.no_backend:
        print(f"postguard: extension backend on {args.backend_listen}; install token in {args.token_file}")
    print(f"postguard: agent state in {state} (postguard agent status --state {state}); Ctrl-C stops everything")


def _watch(procs: dict[str, subprocess.Popen[bytes]]) -> int:
    """Wait until a child exits (its code, 1 if it was 0) or Ctrl-C/SIGTERM (KeyboardInterrupt)."""
    while True:
        for name, p in procs.items():
            if p.poll() is not None:
                print(f"postguard: {name} exited with code {p.returncode}; stopping", file=sys.stderr)
                return p.returncode or 1
        time.sleep(0.5)


def _stop(procs: dict[str, subprocess.Popen[bytes]]) -> None:
    """The agent first, so its clean stop (agent-stop, a last upload) still reaches the server."""
    for name in ("agent", "server"):
        child = procs.get(name)
        if child is None or child.poll() is not None:
            continue
        child.send_signal(signal.SIGINT)
        try:
            child.wait(15)
        except subprocess.TimeoutExpired:
            child.kill()
