"""`postguard policy publish DIR | list`: the signed policy bundles the district server serves.

`publish` loads the folder with the checker (a folder that does not load is refused), packs it
with its roster into a tar.gz, signs its manifest with the server's Ed25519 key (the key devices
pinned at enrolment: it must exist, the server makes it on first start) and stores it as the next
version in the server's database; every agent fetches it within its fetch interval."""

from __future__ import annotations

import argparse
import json

from postguard.cli import UsageError
from postguard.commands._checkpoint import user_name
from postguard.commands.devices import _conn, _db_arg


def register(sub: argparse._SubParsersAction) -> None:
    """Add the `policy` parser and its sub-commands."""
    p = sub.add_parser("policy", help="sign and publish the policy bundle devices fetch", description=__doc__)
    s = p.add_subparsers(dest="policy_command", metavar="ACTION", required=True)
    q = s.add_parser("publish", help="sign and publish a policy folder (with its roster) as the next version")
    q.add_argument("folder", metavar="DIR", help="the policy folder, e.g. policies/region14")
    _db_arg(q)
    q.add_argument("--signing-key", metavar="FILE", default="var/server-signing.key",
                   help="the server's Ed25519 key (default var/server-signing.key, as `postguard server`)")
    q.add_argument("--json", action="store_true")
    q.set_defaults(func=run_publish)
    q = s.add_parser("list", help="the published bundles, newest first")
    _db_arg(q)
    q.add_argument("--json", action="store_true", help="one JSON object per line")
    q.set_defaults(func=run_list)


def run_publish(args: argparse.Namespace) -> int:
    """Publish the folder; print its version and digest."""
    from server.checkpoint import CheckpointError, load_key
    from server.policy_bundle import BundleError, publish

    try:
        key = load_key(args.signing_key)
    except CheckpointError as e:
        raise UsageError(str(e)) from None
    with _conn(args) as c:
        try:
            b = publish(c, args.folder, key, f"cli:{user_name()}")
        except BundleError as e:
            raise UsageError(str(e)) from None
    if args.json:
        print(json.dumps({"version": b.version, "policy_digest": b.policy_digest, "sha256": b.sha256,
                          "size": b.size, "created_at": b.created_at}))
    else:
        print(f"published policy bundle version {b.version}: digest {b.policy_digest}, {b.size:,} bytes, "
              f"signed; devices fetch it within their fetch interval")
    return 0


def run_list(args: argparse.Namespace) -> int:
    """The published bundles."""
    from store import bundles

    with _conn(args) as c:
        rows = bundles.listing(c)
    for b in rows:
        if args.json:
            print(json.dumps({"version": b.version, "created_at": b.created_at, "policy_digest": b.policy_digest,
                              "sha256": b.sha256, "size": b.size, "published_by": b.published_by}))
        else:
            print(f"v{b.version}  {b.created_at}  digest {b.policy_digest}  {b.size:,} bytes  by {b.published_by}")
    if not rows and not args.json:
        print("no policy bundle has been published (postguard policy publish DIR)")
    return 0
