"""`postguard run`: start postguard on this machine: the checking proxy, the extension's
backend and the IT console, on loopback, sharing one policy and one interception log."""

from __future__ import annotations

import argparse
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path

from postguard.commands._common import add_policy_arg, policy_from

SERVICES = {"proxy": "127.0.0.1:8080", "backend": "127.0.0.1:8731", "console": "127.0.0.1:8732"}


def register(sub: argparse._SubParsersAction) -> None:
    """Add the `run` parser."""
    p = sub.add_parser("run", help="start postguard (proxy, extension backend, IT console)", description=__doc__)
    add_policy_arg(p)
    p.add_argument("--db", metavar="DB", help="SQLite path or postgresql:// URL (default: $POSTGUARD_DB or ./var/postguard.sqlite)")
    for name, addr in SERVICES.items():
        p.add_argument(f"--{name}-listen", metavar="HOST:PORT", default=addr, help=f"{name} address (default {addr})")
    p.add_argument("--confdir", metavar="DIR", default="var/mitmproxy",
                   help="where the proxy keeps its CA (default var/mitmproxy)")
    p.add_argument("--only", action="append", choices=sorted(SERVICES), help="start only these services")
    p.set_defaults(func=run)


def first_admin(db: str, policy_dir: str | None) -> str | None:
    """Create the console's first admin when it has no users; return the message to show."""
    from checker import load_policy
    from console.auth import add_user
    from enforce import log_config
    from store import open_store

    with open_store(db, log_config(load_policy(policy_dir))) as st:
        if st.read(lambda c: c.scalar("SELECT COUNT(*) FROM users")):
            return None
        password = secrets.token_urlsafe(12)
        add_user(st, "admin", "admin", password)
    path = Path("var") / "console-admin.txt"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"user: admin\npassword: {password}\n", encoding="utf-8")
    path.chmod(0o600)
    return f"console: first admin account 'admin' created; its password is in {path} (readable by you only)"


def run(args: argparse.Namespace) -> int:
    """Start the services as child processes and stop them all on Ctrl-C or when one dies."""
    from extension.backend import EXTENSION_ID
    from store import default_db

    policy = policy_from(args)  # fail fast, with a clear message, before starting anything
    db = args.db or default_db()
    if "://" not in db:
        Path(db).parent.mkdir(parents=True, exist_ok=True)
    Path(args.confdir).mkdir(parents=True, exist_ok=True)
    common = ["--db", db] + (["--policy", args.policy] if args.policy else [])
    wanted = args.only or list(SERVICES)
    cmds = {
        # A JSON "Post anyway" is accepted only from the extension (its pinned id), not from a site's scripts.
        "proxy": ["proxy", *common, "--listen", args.proxy_listen, "--confdir", args.confdir,
                  "--set", f"postguard_override_origins=chrome-extension://{EXTENSION_ID}"],
        "backend": ["backend", *common, "--listen", args.backend_listen],
        "console": ["console", *common, "--listen", args.console_listen],
    }
    print(f"postguard: policy {policy.data.slug} ({policy.district.name}), digest {policy.digest}; log {db}")
    print(f"postguard: {policy.data.notice}")
    if "console" in wanted and (msg := first_admin(db, args.policy)):
        print(f"postguard: {msg}")
    procs: dict[str, subprocess.Popen] = {}
    for name in wanted:
        procs[name] = subprocess.Popen([sys.executable, "-m", "postguard", *cmds[name]])
        print(f"postguard: {name} starting on {getattr(args, name + '_listen')}")
    print(f"postguard: proxy CA certificate: {args.confdir}/mitmproxy-ca-cert.pem (see docs/proxy.md)")
    print("postguard: Ctrl-C stops everything")
    code = 0

    def on_term(signum: int, frame: object) -> None:
        raise KeyboardInterrupt  # stop the children too, as on Ctrl-C

    signal.signal(signal.SIGTERM, on_term)
    try:
        while True:
            for name, p in procs.items():
                if p.poll() is not None:
                    print(f"postguard: {name} exited with code {p.returncode}; stopping", file=sys.stderr)
                    code = p.returncode or 1
                    raise KeyboardInterrupt
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        for p in procs.values():
            if p.poll() is None:
                p.send_signal(signal.SIGINT)
        deadline = time.monotonic() + 10
        for p in procs.values():
            try:
                p.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                p.kill()
    return code if code else 0


