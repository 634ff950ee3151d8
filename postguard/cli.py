"""The `postguard` command: one sub-command per module in `postguard.commands`.

A sub-command module defines `register(subparsers)`, which adds its parser and sets
`func(args) -> int` as the handler. Exit codes: 0 fine/clean, 1 findings, 2 bad input.
"""

from __future__ import annotations

import argparse
import importlib
import os
import pkgutil
import sys

from postguard import __version__, commands


class UsageError(Exception):
    """Bad input from the user: printed as one line, exit 2."""


def build_parser() -> argparse.ArgumentParser:
    """The top-level parser with every sub-command registered."""
    parser = argparse.ArgumentParser(prog="postguard", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"postguard {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for mod in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
        if mod.name.startswith("_"):
            continue
        importlib.import_module(f"postguard.commands.{mod.name}").register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the command line; return the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except UsageError as e:
        print(f"postguard: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0
    except Exception as e:  # one line for the user; the traceback only on request
        if os.environ.get("POSTGUARD_DEBUG"):
            raise
        print(f"postguard: internal error: {type(e).__name__}: {e} (set POSTGUARD_DEBUG=1 for details)",
              file=sys.stderr)
        return 2
