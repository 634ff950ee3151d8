"""`postguard server`: the district server: the device API, the review console, device health,
retention by server time and signed checkpoints, over one database (PostgreSQL; SQLite for a trial).

TLS is built in (`--cert`, `--key`); behind a reverse proxy that terminates TLS, listen on
loopback and pass `--behind-proxy` (see docs/server.md)."""

from __future__ import annotations

import argparse
import os
import secrets
import ssl
import sys
from pathlib import Path

from postguard.cli import UsageError
from postguard.commands._common import add_policy_arg, policy_from
from postguard.commands.console import add_oidc_arg, oidc_extra, parse_listen

DEFAULT_LISTEN = "127.0.0.1:8733"


def register(sub: argparse._SubParsersAction) -> None:
    """Add the `server` parser."""
    p = sub.add_parser("server", help="the district server (device API, console, retention, checkpoints)",
                       description=__doc__)
    p.add_argument("--db", metavar="DB", help="postgresql:// URL (or a SQLite file for a one-machine trial; "
                   "default: $POSTGUARD_DB or ./var/postguard.sqlite)")
    add_policy_arg(p)
    p.add_argument("--listen", default=DEFAULT_LISTEN, metavar="HOST:PORT",
                   help=f"address to serve on (default {DEFAULT_LISTEN})")
    p.add_argument("--cert", metavar="FILE", help="TLS certificate chain (PEM); with --key, serve HTTPS")
    p.add_argument("--key", metavar="FILE", help="TLS private key (PEM)")
    p.add_argument("--behind-proxy", action="store_true",
                   help="a reverse proxy terminates TLS in front of this server: trust its X-Forwarded-Proto and "
                   "-Host, mark console cookies Secure (listen on loopback so only the proxy reaches it)")
    p.add_argument("--signing-key", metavar="FILE", default="var/server-signing.key",
                   help="the server's Ed25519 checkpoint key, created on first start (default var/server-signing.key)")
    p.add_argument("--checkpoint-dir", metavar="DIR", help="also write every signed checkpoint into this folder")
    p.add_argument("--heartbeat-interval", type=int, default=300, metavar="SECONDS",
                   help="how often devices send a heartbeat (default 300; silent after 3 intervals)")
    p.add_argument("--checkpoint-hours", type=float, default=24.0, metavar="HOURS",
                   help="sign the chain heads at least this often (default 24)")
    p.add_argument("--db-threads", type=int, default=0, metavar="N",
                   help="database connections for ingest (default 4 on PostgreSQL, 1 on SQLite)")
    p.add_argument("--policy-cache", metavar="DIR",
                   help="where the extension API unpacks the newest signed policy bundle, roster included "
                        "(owner-only, emptied at start; default server-policy/ beside --signing-key)")
    add_oidc_arg(p)
    p.set_defaults(func=run)


def tls_context(cert: str | None, key: str | None) -> ssl.SSLContext | None:
    """A server TLS context from PEM files (TLS 1.2 or newer), or None without --cert/--key."""
    if not cert and not key:
        return None
    if not (cert and key):
        raise UsageError("--cert and --key go together")
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        ctx.load_cert_chain(cert, key)
    except (OSError, ssl.SSLError) as e:
        raise UsageError(f"--cert/--key: {getattr(e, 'strerror', None) or e}") from None
    return ctx


def first_admin(db: str, log_config: object, folder: Path = Path("var")) -> str | None:
    """Create the console's first admin when there are no users; return the message to show."""
    from console.auth import add_user
    from store import StoreConfig, open_store

    assert isinstance(log_config, StoreConfig)
    with open_store(db, log_config, auto_purge=False) as st:
        if st.read(lambda c: c.scalar("SELECT COUNT(*) FROM users")):
            return None
        password = secrets.token_urlsafe(12)
        add_user(st, "admin", "admin", password)
    path = folder / "console-admin.txt"
    path.parent.mkdir(parents=True, exist_ok=True)
    # Owner-only from the moment it exists, and also when a file was there already (touch would
    # keep its old mode): never readable by others, not even between writing it and a chmod.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_NOFOLLOW", 0), 0o600)
    try:
        os.fchmod(fd, 0o600)
        os.write(fd, f"user: admin\npassword: {password}\n".encode())
    finally:
        os.close(fd)
    return f"console: first admin account 'admin' created; its password is in {path} (readable by you only)"


def run(args: argparse.Namespace) -> int:
    """Serve until interrupted."""
    from aiohttp import web

    from enforce import log_config
    from server import ServerConfig, create_app
    from server.alerts_policy import load_alerts
    from server.alerts_settings import AlertSettings
    from store import default_db
    from store.db import describe, is_postgres

    host, port = parse_listen(args.listen)
    ctx = tls_context(args.cert, args.key)
    if args.heartbeat_interval < 5:
        raise UsageError("--heartbeat-interval: at least 5 seconds")
    if args.checkpoint_hours <= 0:
        raise UsageError("--checkpoint-hours: more than 0")
    extra = oidc_extra(args.oidc)
    policy = policy_from(args)
    try:  # alert delivery settings and routes: a mistake is a usage error, before anything starts
        alerts = AlertSettings.from_env()
        load_alerts(policy)
    except ValueError as e:
        raise UsageError(str(e)) from None
    db = args.db or default_db()
    if not is_postgres(db):
        print("postguard server: SQLite is for a one-machine trial; a district runs on PostgreSQL",
              file=sys.stderr)
    if args.behind_proxy and host not in ("127.0.0.1", "::1", "localhost"):
        print(f"postguard server: warning: --behind-proxy trusts forwarded headers; listen on loopback, "
              f"not {host}", file=sys.stderr)
    if ctx is None and not args.behind_proxy and host not in ("127.0.0.1", "::1", "localhost"):
        print(f"postguard server: warning: plain HTTP on {host}; use --cert/--key or a TLS reverse proxy",
              file=sys.stderr)
    try:
        if msg := first_admin(db, log_config(policy)):
            print(f"postguard server: {msg}")
    except ConnectionError as e:  # serve anyway: devices get 503 and retry until the database is back
        print(f"postguard server: warning: database {describe(db)} unavailable ({e}); starting anyway",
              file=sys.stderr)
    cfg = ServerConfig(db=db, policy=policy, signing_key=args.signing_key, heartbeat_interval=args.heartbeat_interval,
                       checkpoint_hours=args.checkpoint_hours, checkpoint_dir=args.checkpoint_dir,
                       db_threads=args.db_threads, secure_cookies=bool(ctx) or args.behind_proxy,
                       behind_proxy=args.behind_proxy, alerts=alerts, policy_cache=args.policy_cache)
    app = create_app(cfg)
    if extra:  # sign-in with the district's accounts on the server's console
        from console.keys import CONFIG
        from console.views import oidc

        app[CONFIG].extra.update(extra)
        oidc.setup(app)
    scheme = "https" if ctx else "http"
    print(f"postguard server on {scheme}://{host}:{port}/ (devices: /api/v1, console: /) "
          f"database {describe(db)}, policy {policy.digest[:16]} (Ctrl-C to stop)", flush=True)
    web.run_app(app, host=host, port=port, ssl_context=ctx, print=None, access_log=None)
    return 0
