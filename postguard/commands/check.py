"""`postguard check`: which clauses of the Board policy a post would break, and why."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from checker import ImageInput, InputError, Post, Verdict, check
from checker.engine import MAX_TEXT_CHARS
from checker.errors import NotAnImage
from postguard.cli import UsageError
from postguard.commands._common import (
    add_policy_arg,
    policy_from,
    read_stdin_text,
    validate_text,
)

MAX_IMAGE_BYTES = 20 * 1024 * 1024
MAX_STDIN_BYTES = 16 * 1024 * 1024  # read past the text limit so the error says which limit


def register(sub: argparse._SubParsersAction) -> None:
    """Add the `check` parser."""
    p = sub.add_parser("check", help="check one post", description=__doc__)
    p.add_argument("text", nargs="?", metavar="TEXT", help="the post text, or - to read stdin")
    add_policy_arg(p)
    p.add_argument("--account", choices=["personal", "sponsored"],
                   help="account kind (default: decided by --target against the registry)")
    p.add_argument("--site", help="host the post goes to (e.g. www.facebook.com)")
    p.add_argument("--target", help="page, group or account the post goes to (URL or id)")
    p.add_argument("--link", action="append", default=[], metavar="URL", help="attached link (repeatable)")
    p.add_argument("--image", action="append", default=[], metavar="FILE", help="attached image (repeatable)")
    p.add_argument("--json", action="store_true", help="print the verdict as JSON")
    p.set_defaults(func=run)


def read_bounded(path: str | Path, limit: int, shown: str, what: str = "image ") -> bytes:
    """At most `limit` bytes of a file, read in pieces: a device or a pipe (/dev/zero, a FIFO)
    has no size to look at first. UsageError ("name: reason", one line) otherwise."""
    try:
        with open(path, "rb") as f:
            data = f.read(limit + 1)
    except OSError as e:
        raise UsageError(f"{shown}: {e.strerror}") from None
    if len(data) > limit:
        raise UsageError(f"{shown}: {what}larger than {limit:,} bytes")
    return data


def load_images(paths: list[str], base: Path | None = None) -> tuple[ImageInput, ...]:
    """Read and validate image files (UsageError names the file)."""
    from checker.imagematch import open_image  # Pillow only when there are images

    out = []
    for p in paths:
        path = (base / p) if base is not None else Path(p)
        data = read_bounded(path, MAX_IMAGE_BYTES, p)
        try:
            open_image(data)
        except NotAnImage as e:
            raise UsageError(f"{p}: {e}") from None
        out.append(ImageInput(name=path.name, data=data))
    return tuple(out)


def render(v: Verdict) -> str:
    """A readable report of a verdict."""
    if not v.fired:
        return f"clean ({v.account} account): no clause of the Board policy would be broken"
    lines = [f"{len(v.fired)} rule(s) fired on this {v.account} post, action: {v.action}"]
    for f in v.findings:
        if f.action == "off":
            continue
        where = f'"{f.excerpt}"' if f.excerpt else (f.link or f.image or "")
        lines.append(f"- [{f.action}] {f.rule} ({f.clause}): {f.reason} — {where}")
        lines.append(f"    {f.message}")
        if f.fix_text:
            lines.append(f"    fix: {f.fix}: {f.fix_text}")
        elif f.fix:
            lines.append(f"    fix: {f.fix}")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    """Check one post; exit 0 clean, 1 findings, 2 bad input."""
    if args.text == "-":
        text = read_stdin_text(MAX_STDIN_BYTES)
    else:
        text = args.text or ""
    text = validate_text(text, "text")
    if len(text) > MAX_TEXT_CHARS:
        raise UsageError(f"text is {len(text):,} characters; the limit is {MAX_TEXT_CHARS:,}")
    if not text.strip() and not args.link and not args.image:
        raise UsageError("nothing to check: give TEXT (or - for stdin), --link or --image")
    for link in args.link:
        validate_text(link, "--link")
    images = load_images(args.image)
    policy = policy_from(args)
    post = Post(text=text, account=args.account, site=args.site, target=args.target,
                links=tuple(args.link), images=images)
    try:
        verdict = check(post, policy)
    except (InputError, NotAnImage) as e:
        raise UsageError(str(e)) from None
    print(json.dumps(verdict.to_dict(), ensure_ascii=False) if args.json else render(verdict))
    return 1 if verdict.fired else 0
