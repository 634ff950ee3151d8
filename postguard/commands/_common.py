"""Helpers shared by sub-commands: loading the policy, reading text safely."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from checker import Policy, PolicyError, load_policy
from postguard.cli import UsageError


def add_policy_arg(p: argparse.ArgumentParser) -> None:
    """The `--policy DIR` option (default: the Region 14 policy)."""
    p.add_argument("--policy", metavar="DIR", help="policy folder (default: policies/region14)")


def policy_from(args: argparse.Namespace, *, checks: bool = True) -> Policy:
    """Load the policy named by `--policy`, as a UsageError on failure (`checks`: see load_policy)."""
    try:
        return load_policy(args.policy, checks=checks)
    except PolicyError as e:
        raise UsageError(f"policy: {e}") from None
    except OSError as e:
        raise UsageError(f"policy: {e.strerror}: {e.filename}") from None


def read_input_file(path: str | Path, limit: int, *, shown: str | None = None, what: str = "") -> bytes:
    """A user-named file's bytes, at most `limit`; UsageError ("name: reason", one line) otherwise.
    Reads at most `limit` + 1 bytes whatever the file claims to be: a device, a pipe or a file
    still growing (`/dev/zero`, `/proc/...`) reports a size of 0."""
    name = shown if shown is not None else str(path)
    try:
        with open(path, "rb") as f:
            data = f.read(limit + 1)
    except OSError as e:
        raise UsageError(f"{name}: {e.strerror}") from None
    if len(data) > limit:
        raise UsageError(f"{name}: {what}larger than {limit:,} bytes")
    return data


def validate_text(text: str, where: str) -> str:
    """Reject text a person could not have typed: lone surrogates, control characters."""
    for i, ch in enumerate(text):
        o = ord(ch)
        if 0xD800 <= o <= 0xDFFF:
            raise UsageError(f"{where}: invalid character (lone surrogate or undecodable byte) at offset {i}")
        if (o < 32 and ch not in "\t\n\r") or o == 127:
            raise UsageError(f"{where}: control character U+{o:04X} at offset {i}")
    return text


def read_stdin_text(limit: int) -> str:
    """Read stdin as strict UTF-8, at most `limit` bytes."""
    raw = sys.stdin.buffer.read(limit + 1)
    if len(raw) > limit:
        raise UsageError(f"stdin: more than {limit:,} bytes")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise UsageError(f"stdin: invalid UTF-8 at byte {e.start}") from None
