"""`postguard backend`: the browser extension's local backend on 127.0.0.1."""

from __future__ import annotations

import argparse
import ipaddress
import os
import secrets
from pathlib import Path

from postguard.cli import UsageError
from postguard.commands._common import add_policy_arg, policy_from

TOKEN_ENV = "POSTGUARD_BACKEND_TOKEN"


def register(sub: argparse._SubParsersAction) -> None:
    """Add the `backend` parser."""
    p = sub.add_parser("backend", help="run the browser extension's local backend", description=__doc__)
    add_policy_arg(p)
    p.add_argument("--db", help="interception log: SQLite path or postgresql:// URL (default: $POSTGUARD_DB or var/postguard.sqlite)")
    p.add_argument("--listen", default="127.0.0.1:8731", metavar="HOST:PORT",
                   help="loopback address to listen on (default 127.0.0.1:8731)")
    p.add_argument("--token", help=f"install token the extension must send (default: ${TOKEN_ENV}, else --token-file)")
    p.add_argument("--token-file", default="var/backend.token", metavar="FILE",
                   help="where the token is read from, or created on first start (default var/backend.token)")
    p.add_argument("--extension-id", action="append", metavar="ID",
                   help="allowed extension id (repeat for several; default: postguard's pinned id)")
    p.add_argument("--staff", metavar="NAME",
                   help="the device's assigned user (an e-mail address or account name), the staff member of "
                        "events the browser names no one for (the agent passes its enrolment's --user)")
    p.set_defaults(func=run)


def parse_listen(value: str) -> tuple[str, int]:
    """HOST:PORT on a loopback address, as a UsageError otherwise."""
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise UsageError(f"--listen: expected HOST:PORT, got {value!r}")
    host = host.strip("[]") or "127.0.0.1"
    try:
        loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        raise UsageError(f"--listen: the backend binds loopback only (got {host!r})")
    return ("127.0.0.1" if host == "localhost" else host), int(port)


def load_token(args: argparse.Namespace) -> str:
    """The install token: --token, the environment, or the token file (created when absent)."""
    token = args.token or os.environ.get(TOKEN_ENV)
    if token is None:
        path = Path(args.token_file)
        if path.exists():
            token = path.read_text(encoding="utf-8").strip()
        else:
            token = secrets.token_urlsafe(32)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.touch(mode=0o600)
            path.write_text(token + "\n", encoding="utf-8")
            print(f"postguard backend: created install token in {path} (push it to the extension's managed settings)", flush=True)
    if len(token) < 16:
        raise UsageError("--token: use at least 16 characters")
    return token


def run(args: argparse.Namespace) -> int:
    """Start the backend and serve until interrupted."""
    from aiohttp import web

    from extension.backend import EXTENSION_ID, BackendConfig, create_app

    host, port = parse_listen(args.listen)
    ids = tuple(args.extension_id or (EXTENSION_ID,))
    for i in ids:
        if len(i) != 32 or not set(i) <= set("abcdefghijklmnop"):
            raise UsageError(f"--extension-id: not a Chrome extension id: {i!r}")
    if args.staff:
        from store.event import check_staff

        try:
            check_staff(args.staff, "enrolment")
        except ValueError as e:
            raise UsageError(f"--{e}") from None
    config = BackendConfig(policy=policy_from(args), token=load_token(args), db=args.db,
                           extension_ids=ids, port=port, staff=args.staff or None)
    print(f"postguard backend: http://{host}:{port} policy {config.policy.digest}, extension {', '.join(ids)}", flush=True)
    web.run_app(create_app(config), host=host, port=port, print=None, access_log=None)
    return 0
