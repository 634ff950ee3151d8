"""`postguard extension-groups create|list|revoke`: the keys with which browsers that have no local
agent (Chromebooks, computers without the agent) use the district server's extension API.

One key per group of devices (an organisational unit in Google Admin, a Group Policy object),
pushed as the extension's `groupKey` managed setting beside `serverUrl`. `create` prints the key
once; only its SHA-256 is kept. These write the server's database directly (`--db`)."""

from __future__ import annotations

import argparse
import json

from postguard.cli import UsageError
from postguard.commands.devices import _conn, _db_arg


def register(sub: argparse._SubParsersAction) -> None:
    """Add the `extension-groups` parser and its sub-commands."""
    p = sub.add_parser("extension-groups", help="group keys for browsers without an agent (Chromebooks)",
                       description=__doc__)
    s = p.add_subparsers(dest="groups_command", metavar="ACTION", required=True)
    q = s.add_parser("create", help="make a group and print its key (shown once)")
    _db_arg(q)
    q.add_argument("name", help="the group's name, e.g. nhs-chromebooks")
    q.add_argument("--json", action="store_true")
    q.set_defaults(func=run_create)
    q = s.add_parser("list", help="every group (never the keys)")
    _db_arg(q)
    q.add_argument("--json", action="store_true", help="one JSON object per line")
    q.set_defaults(func=run_list)
    q = s.add_parser("revoke", help="refuse a group's key from now on (within 30 s on a running server)")
    _db_arg(q)
    q.add_argument("name")
    q.set_defaults(func=run_revoke)


def run_create(args: argparse.Namespace) -> int:
    from server import extension_groups as g

    with _conn(args) as conn:
        try:
            key = g.create(conn, args.name)
        except g.GroupError as e:
            raise UsageError(str(e)) from None
    if args.json:
        print(json.dumps({"name": args.name, "key": key}))
    else:
        print(f"group {args.name}: key {key}")
        print("push it as the extension's groupKey managed setting (with serverUrl); it is not shown again")
    return 0


def run_list(args: argparse.Namespace) -> int:
    from server import extension_groups as g

    with _conn(args) as conn:
        rows = g.groups(conn)
    for r in rows:
        if args.json:
            print(json.dumps(r))
        else:
            print(f"{r['name']}\tcreated {r['created_at']}" + (f"\trevoked {r['revoked_at']}" if r["revoked_at"] else ""))
    return 0


def run_revoke(args: argparse.Namespace) -> int:
    from server import extension_groups as g

    with _conn(args) as conn:
        if not g.revoke(conn, args.name):
            raise UsageError(f"no live group {args.name!r} (see postguard extension-groups list)")
    print(f"group {args.name}: key revoked")
    return 0
