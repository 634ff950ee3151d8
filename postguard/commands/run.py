"""`postguard run`: start postguard on this machine (the checker demo until the services exist)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from checker import Post, check
from postguard.commands._common import add_policy_arg, policy_from
from postguard.commands.check import render

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "posts.jsonl"


def register(sub: argparse._SubParsersAction) -> None:
    """Add the `run` parser."""
    p = sub.add_parser("run", help="start postguard (all services)", description=__doc__)
    add_policy_arg(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Check the sample posts and show what postguard would say."""
    policy = policy_from(args)
    print(f"postguard: policy {policy.data.slug} ({policy.district.name}), digest {policy.digest}")
    for line in EXAMPLES.read_text(encoding="utf-8").splitlines():
        c = json.loads(line)
        v = check(Post(text=c["text"], account=c.get("account"), target=c.get("target")), policy)
        print(f"\n> {c['text']}\n{render(v)}")
    return 0
