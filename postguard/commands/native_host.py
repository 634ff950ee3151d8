"""`postguard native-host`: the native messaging host the browser starts for the extension (it relays
to the agent's extension backend; `postguard agent install` registers it). Not run by hand."""

from __future__ import annotations

import argparse

from postguard.cli import UsageError


def register(sub: argparse._SubParsersAction) -> None:
    """Add the `native-host` parser."""
    from extension.native_host import add_arguments

    p = sub.add_parser("native-host", help="the extension's native messaging host (the browser starts it)",
                       description=__doc__)
    add_arguments(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from extension.native_host import HostError
    from extension.native_host import run as serve

    try:
        return serve(args)
    except HostError as e:
        raise UsageError(str(e)) from None
