"""`postguard logs checkpoint`: sign every chain head now with the server's key, or take the
newest signed checkpoint, and write it out (for `postguard logs verify --checkpoint`)."""

from __future__ import annotations

import argparse
import getpass
import json
import sys

from postguard.cli import UsageError
from store import default_db
from store.db import describe


def user_name() -> str:
    try:
        return getpass.getuser()
    except Exception:
        return "unknown"


def run_checkpoint(args: argparse.Namespace) -> int:
    """Sign the chain heads now (or take the newest checkpoint) and write it out."""
    from server.checkpoint import CheckpointError, exported, load_key, make
    from store import checkpoints
    from store.db import Conn, db_down, migrate

    db = args.db or default_db()
    try:
        key = None if args.latest else load_key(args.signing_key)
        conn = Conn(db)
    except CheckpointError as e:
        raise UsageError(str(e)) from None
    except db_down() as e:
        raise UsageError(f"cannot open {describe(db)}: {type(e).__name__}") from None
    try:
        migrate(conn)
        if key is None:
            row = checkpoints.latest(conn)
            if row is None:
                raise UsageError("no checkpoint has been signed yet (run without --latest)")
            cp = exported(row)
        else:
            cp = make(conn, key, f"on demand by {user_name()}")
    finally:
        conn.close()
    text = json.dumps(cp, indent=1, sort_keys=True) + "\n"
    if args.out:
        with open(args.out, "w", encoding="utf-8") as f:
            f.write(text)
        print(f"checkpoint {cp['id']} of {cp['payload']['created_at']}: {len(cp['payload']['heads'])} chain "
              f"head(s), written to {args.out}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0
