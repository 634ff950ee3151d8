"""`postguard eval`: precision, recall and F1 per rule on a labeled JSONL file of cases."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from checker import InputError, Policy, Post, check
from checker.errors import NotAnImage
from postguard.cli import UsageError
from postguard.commands._common import add_policy_arg, policy_from, read_input_file
from postguard.commands.check import load_images

MAX_CASES_BYTES = 512 * 1024 * 1024


def register(sub: argparse._SubParsersAction) -> None:
    """Add the `eval` parser."""
    p = sub.add_parser("eval", help="measure the checker on labeled cases", description=__doc__)
    p.add_argument("cases", metavar="CASES.jsonl")
    add_policy_arg(p)
    p.add_argument("--predictions", metavar="OUT.jsonl", help="write one line per case: id, fired, findings")
    p.add_argument("--json", action="store_true", help="print the scores as JSON")
    p.set_defaults(func=run)


def read_cases(path: Path) -> list[dict[str, Any]]:
    """Parse and validate a cases file; UsageError names the line and the key."""
    raw = read_input_file(path, MAX_CASES_BYTES)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise UsageError(f"{path}: invalid UTF-8 at byte {e.start}") from None
    cases, ids = [], set()
    for n, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            c = json.loads(line)
        except json.JSONDecodeError as e:
            raise UsageError(f"{path}:{n}: invalid JSON: {e.msg}") from None
        if not isinstance(c, dict):
            raise UsageError(f"{path}:{n}: each line must be a JSON object")
        for key, typ in (("id", str), ("text", str), ("expect", list)):
            if not isinstance(c.get(key), typ):
                raise UsageError(f"{path}:{n}: {key}: missing or not a {typ.__name__}")
        if c["id"] in ids:
            raise UsageError(f"{path}:{n}: id: duplicate {c['id']!r}")
        ids.add(c["id"])
        if c.get("account") not in (None, "personal", "sponsored"):
            raise UsageError(f"{path}:{n}: account: must be personal or sponsored")
        for key in ("links", "images"):
            v = c.get(key, [])
            if not isinstance(v, list) or not all(isinstance(x, str) for x in v):
                raise UsageError(f"{path}:{n}: {key}: must be a list of strings")
        c["_line"] = n
        cases.append(c)
    return cases


def run_case(c: dict[str, Any], policy: Policy, base: Path) -> dict[str, Any]:
    """Check one case; returns its prediction record."""
    post = Post(
        text=c["text"], account=c.get("account"), site=c.get("site"), target=c.get("target"),
        links=tuple(c.get("links", [])), images=load_images(c.get("images", []), base),
        kind=c.get("kind", "post"), counterpart=c.get("counterpart"), settings=c.get("settings", {}),
    )
    try:
        v = check(post, policy)
    except (InputError, NotAnImage) as e:
        raise UsageError(f"case {c['id']} (line {c['_line']}): {e}") from None
    return {"id": c["id"], "fired": v.fired, "findings": [f.to_dict() for f in v.findings if f.action != "off"]}


def score(cases: list[dict[str, Any]], preds: list[dict[str, Any]]) -> dict[str, Any]:
    """Per-rule and micro-averaged precision, recall, F1 (plus exact-match case accuracy)."""
    counts: dict[str, list[int]] = {}
    exact = 0
    for c, p in zip(cases, preds, strict=True):
        want, got = set(c["expect"]), set(p["fired"])
        exact += want == got
        for r in want | got:
            tp_fp_fn = counts.setdefault(r, [0, 0, 0])
            if r in want and r in got:
                tp_fp_fn[0] += 1
            elif r in got:
                tp_fp_fn[1] += 1
            else:
                tp_fp_fn[2] += 1

    def prf(tp: int, fp: int, fn: int) -> dict[str, float | int]:
        p = tp / (tp + fp) if tp + fp else 1.0
        r = tp / (tp + fn) if tp + fn else 1.0
        f = 2 * p * r / (p + r) if p + r else 0.0
        return {"precision": round(p, 4), "recall": round(r, 4), "f1": round(f, 4),
                "tp": tp, "fp": fp, "fn": fn, "support": tp + fn}

    rules = {r: prf(*v) for r, v in sorted(counts.items())}
    tot = [sum(v[i] for v in counts.values()) for i in range(3)]
    clean = [c for c in cases if not c["expect"]]
    clean_flagged = sum(1 for c, p in zip(cases, preds, strict=True) if not c["expect"] and p["fired"])
    return {
        "cases": len(cases), "exact_match": round(exact / len(cases), 4) if cases else 1.0,
        "clean_cases": len(clean),
        "clean_flagged_rate": round(clean_flagged / len(clean), 4) if clean else 0.0,
        "micro": prf(*tot), "rules": rules,
    }


def render(s: dict[str, Any]) -> str:
    """The scores as a table."""
    lines = [f"{'rule':<20} {'prec':>6} {'recall':>6} {'f1':>6} {'tp':>5} {'fp':>5} {'fn':>5}"]
    for r, m in list(s["rules"].items()) + [("micro", s["micro"])]:
        lines.append(f"{r:<20} {m['precision']:>6.3f} {m['recall']:>6.3f} {m['f1']:>6.3f} {m['tp']:>5} {m['fp']:>5} {m['fn']:>5}")
    lines.append(f"{s['cases']} cases, exact match {s['exact_match']:.3f}, "
                 f"clean cases flagged {s['clean_flagged_rate']:.3f} of {s['clean_cases']}")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    """Evaluate every case and print the scores."""
    path = Path(args.cases)
    cases = read_cases(path)
    policy = policy_from(args)
    preds = [run_case(c, policy, path.parent) for c in cases]
    if args.predictions:
        with open(args.predictions, "w", encoding="utf-8") as fh:
            for p in preds:
                fh.write(json.dumps(p, ensure_ascii=False) + "\n")
    s = score(cases, preds)
    print(json.dumps(s) if args.json else render(s))
    return 0
