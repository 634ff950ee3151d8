"""Chained rows as a device's local log holds them, and the CLI run in-process."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from postguard.cli import main
from store.event import GENESIS, Event, chain_hash, iso, to_row

FINDING = {"rule": "conduct", "clause": "P9", "reason": "insult", "score": 0.9, "span": [0, 5]}


def row(device: str, seq: int, prev: str, text: str = "idiot referee", when: float | None = None,
        **kw: Any) -> dict[str, Any]:
    """One chained row of `device` (content kept in full, so no redaction is needed)."""
    r = to_row(Event(source="proxy", action="warned", site="x.com", text=text, findings=[FINDING],
                     time=when, **kw), mode="full", redact=None, device=device, employee="a.teacher")
    r.update(seq=seq, prev_hash=prev)
    r["hash"] = chain_hash(r)
    return r


def chain(device: str, n: int, start: int = 1, prev: str = GENESIS, **kw: Any) -> list[dict[str, Any]]:
    """`n` rows continuing a chain from seq `start` after hash `prev`."""
    out = []
    for i in range(n):
        r = row(device, start + i, prev, text=f"post number {start + i}", **kw)
        prev = r["hash"]
        out.append(r)
    return out


def old_iso(days: float) -> str:
    """The time `days` ago, as stored."""
    return iso(time.time() - days * 86400)


def cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """Run `postguard ARGV` here: (exit code, stdout, stderr)."""
    rc = main(list(argv))
    out = capsys.readouterr()
    return rc, out.out, out.err


def cli_json(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, Any]:
    """Run a command with --json: (exit code, parsed output)."""
    rc, out, _ = cli(capsys, *argv, "--json")
    return rc, json.loads(out)
