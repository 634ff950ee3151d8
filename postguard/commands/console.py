"""`postguard console`: the IT review console; `postguard console add-user NAME --role ...`."""

from __future__ import annotations

import argparse
import getpass
import sys
from typing import Any

from postguard.cli import UsageError
from postguard.commands._common import add_policy_arg, policy_from

DEFAULT_LISTEN = "127.0.0.1:8732"


def _db_args(p: argparse.ArgumentParser, sub: bool = False) -> None:
    # In the sub-command the defaults are suppressed so `console --db X add-user` keeps X.
    extra: dict[str, Any] = {"default": argparse.SUPPRESS} if sub else {}
    p.add_argument("--db", metavar="DB", help="SQLite file or postgresql:// URL (default: $POSTGUARD_DB "
                   "or ./var/postguard.sqlite)", **extra)
    if sub:
        p.add_argument("--policy", metavar="DIR", default=argparse.SUPPRESS, help="policy folder")
    else:
        add_policy_arg(p)


def register(sub: argparse._SubParsersAction) -> None:
    """Add the `console` parser (serve by default) and `console add-user`."""
    p = sub.add_parser("console", help="the IT review console (web)", description=__doc__)
    _db_args(p)
    p.add_argument("--listen", default=DEFAULT_LISTEN, metavar="HOST:PORT",
                   help=f"address to serve on (default {DEFAULT_LISTEN})")
    add_oidc_arg(p)
    p.set_defaults(func=run_serve)
    s = p.add_subparsers(dest="console_command", metavar="ACTION")
    a = s.add_parser("add-user", help="create a console account (or reset its password and role)")
    _db_args(a, sub=True)
    a.add_argument("name", help="user name")
    a.add_argument("--role", choices=("reviewer", "admin"), required=True)
    a.add_argument("--password-stdin", action="store_true", help="read the password from the first line of stdin")
    a.set_defaults(func=run_add_user)


def add_oidc_arg(p: argparse.ArgumentParser) -> None:
    """--oidc FILE: sign-in with the district's accounts (OpenID Connect; docs/oidc.md)."""
    p.add_argument("--oidc", metavar="FILE", help="TOML file with an [oidc] table: sign in to the console with "
                   "the district's accounts (Google Workspace, Microsoft Entra; see docs/oidc.md)")


def oidc_extra(path: str | None) -> dict[str, Any]:
    """The console's `extra` settings for --oidc, checked now (a bad file is a usage error)."""
    if not path:
        return {}
    from console.oidc import load_file, settings_from

    try:
        extra = {"oidc": load_file(path)}
        settings_from(extra)
    except ValueError as e:
        raise UsageError(f"--oidc: {e}") from None
    return extra


def parse_listen(v: str) -> tuple[str, int]:
    """HOST:PORT -> (host, port)."""
    host, sep, port = v.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise UsageError(f"--listen: expected HOST:PORT, got {v!r}")
    return host.strip("[]") or "127.0.0.1", int(port)


def run_serve(args: argparse.Namespace) -> int:
    """Serve the console until interrupted."""
    from aiohttp import web

    from console import ConsoleConfig, create_app
    from store import default_db

    host, port = parse_listen(args.listen)
    if host not in ("127.0.0.1", "::1", "localhost"):
        print(f"postguard: warning: console listening on {host}; serve it behind TLS", file=sys.stderr)
    extra = oidc_extra(args.oidc)
    app = create_app(ConsoleConfig(db=args.db or default_db(), policy=policy_from(args), extra=extra))
    print(f"postguard console on http://{host}:{port}/ (Ctrl-C to stop)", flush=True)
    web.run_app(app, host=host, port=port, print=None)
    return 0


def _read_password(args: argparse.Namespace) -> str:
    if args.password_stdin:
        line = sys.stdin.readline()
        return line.rstrip("\r\n")
    if not sys.stdin.isatty():
        raise UsageError("no terminal for the password prompt; use --password-stdin")
    first = getpass.getpass(f"Password for {args.name}: ")
    if getpass.getpass("Again: ") != first:
        raise UsageError("the passwords differ")
    return first


def run_add_user(args: argparse.Namespace) -> int:
    """Create or reset an account; the password is hashed with argon2."""
    from console.auth import add_user
    from enforce import log_config
    from store import default_db, open_store

    password = _read_password(args)
    with open_store(args.db or default_db(), log_config(policy_from(args))) as st:
        try:
            created = add_user(st, args.name, args.role, password)
        except ValueError as e:
            raise UsageError(str(e)) from None
        except ConnectionError as e:
            raise UsageError(str(e)) from None
    print(f"{'created' if created else 'updated'} {args.role} {args.name}")
    return 0
