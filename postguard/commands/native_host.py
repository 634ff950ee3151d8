"""`postguard native-host`: the native messaging host the browser starts for the extension (it relays
to the agent's extension backend; `postguard agent install` registers it system-wide). Run by hand
only with `--register BROWSER`, which registers it for this user's browser (a trial or development
machine: `make run`, then `postguard native-host --register chromium`)."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from postguard.cli import UsageError


def register(sub: argparse._SubParsersAction) -> None:
    """Add the `native-host` parser."""
    from extension.native_host import add_arguments

    p = sub.add_parser("native-host", help="the extension's native messaging host (the browser starts it)",
                       description=__doc__)
    add_arguments(p)
    p.add_argument("--register", choices=["chrome", "chromium", "edge"], metavar="BROWSER",
                   help="register the host for this user's chrome, chromium or edge (Linux) and exit; "
                        "with --backend and --token-file as the host will use them (default token: var/backend.token)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from extension.native_host import DEFAULT_TOKEN_FILE, HostError
    from extension.native_host import run as serve

    if args.register:
        return register_here(args, DEFAULT_TOKEN_FILE)
    try:
        return serve(args)
    except HostError as e:
        raise UsageError(str(e)) from None


def register_here(args: argparse.Namespace, system_default: str) -> int:
    from agent.native_messaging import register_user

    if not sys.platform.startswith("linux"):
        raise UsageError("--register writes Linux per-user folders; on macOS and Windows use postguard agent install")
    token = Path("var/backend.token" if args.token_file == system_default else args.token_file)
    if not token.is_file():
        raise UsageError(f"--token-file: no {token} (start the backend first: make run, or postguard backend)")
    paths = register_user(args.register, sys.executable, args.backend, token, Path(os.path.expanduser("~")))
    print(f"registered the native messaging host for {args.register} ({os.path.expanduser('~')}): "
          + ", ".join(str(p) for p in paths))
    print(f"it relays to {args.backend} with the token in {token.resolve()}; restart the browser if it is running")
    return 0
