"""Check a file of labeled posts (data/judgment/*.jsonl) for shape: fields, rule ids and
categories from docs/policy-taxonomy.md, account kinds, sponsored targets from the registry.

    python3 tools/judgment/validate.py FILE.jsonl [FILE.jsonl ...]

Prints one line per problem and a summary per file; exits 1 when any problem was found.
It reads only the taxonomy and the district file, never the checker.
"""

from __future__ import annotations

import json
import re
import sys
import tomllib
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ACCOUNTS = ("personal", "sponsored")
LANGS = ("en", "es", "mixed")
FORMS = ("post", "comment", "reply", "thread", "caption", "message", "quote", "share", "bio", "event")
ONLY = {  # rules that apply on one account kind only
    "directory-opt-out": "sponsored", "misrepresentation": "sponsored", "prohibited-purpose": "sponsored",
    "personal-link": "sponsored", "unapproved-site": None, "district-link": "personal",
    "missing-disclaimer": "personal", "district-logo": "personal", "student-connection": "personal",
}
REQUIRED = ("id", "text", "account", "site", "lang", "form", "labels")


def taxonomy(path: Path = ROOT / "docs" / "policy-taxonomy.md") -> dict[str, list[str]]:
    """Rule id -> its categories, in the taxonomy's order."""
    rule, cats = None, {}
    for line in path.read_text(encoding="utf-8").splitlines():
        m = re.match(r"## \d+\. `([a-z-]+)`", line)
        if m:
            rule = m.group(1)
            cats[rule] = []
            continue
        if line.startswith("## ") and not m:
            rule = None
        m = re.match(r"\| \d+ \| `([a-z-]+)` \|", line)
        if m and rule:
            cats[rule].append(m.group(1))
    return cats


def registry(path: Path = ROOT / "policies" / "region14" / "district.toml") -> set[str]:
    """The sponsored URLs of the registry."""
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    return {s["url"].rstrip("/").lower() for s in data.get("sponsored", [])}


def check_row(row: dict, cats: dict[str, list[str]], reg: set[str]) -> list[str]:
    """Problems with one row (empty = fine)."""
    out = [f"missing field {f!r}" for f in REQUIRED if f not in row]
    if out:
        return out
    if not isinstance(row["text"], str) or not row["text"].strip():
        out.append("empty text")
    if row["account"] not in ACCOUNTS:
        out.append(f"account must be one of {ACCOUNTS}")
    if row["lang"] not in LANGS:
        out.append(f"lang must be one of {LANGS}")
    if row["form"] not in FORMS:
        out.append(f"form must be one of {FORMS}")
    if row["account"] == "sponsored":
        t = str(row.get("target", "")).rstrip("/").lower()
        if t not in reg:
            out.append(f"sponsored post needs a registry 'target' (got {row.get('target')!r})")
    links = row.get("links", [])
    if not isinstance(links, list) or not all(isinstance(u, str) and u.startswith(("http://", "https://")) for u in links):
        out.append("links must be a list of http(s) URLs")
    labels = row["labels"]
    if not isinstance(labels, list):
        return [*out, "labels must be a list"]
    seen = set()
    for lab in labels:
        if not isinstance(lab, dict) or set(lab) - {"rule", "category"} or "rule" not in lab:
            out.append(f"label must be {{'rule', 'category'}}: {lab!r}")
            continue
        r, c = lab["rule"], lab.get("category")
        if r not in cats:
            out.append(f"unknown rule {r!r}")
            continue
        if c not in cats[r]:
            out.append(f"category {c!r} is not one of {r}'s: {cats[r]}")
        if r in seen:
            out.append(f"rule {r!r} labeled twice (one category per rule)")
        seen.add(r)
        need = ONLY.get(r)
        if need and row["account"] != need:
            out.append(f"{r} applies on {need} posts only")
    nm = row.get("near_miss")
    if nm is not None and not isinstance(nm, str):
        out.append("near_miss must be a string (the category or rule nearly hit) or null")
    return out


def main(argv: list[str]) -> int:
    cats, reg = taxonomy(), registry()
    bad = 0
    for name in argv:
        ids: Counter[str] = Counter()
        n = 0
        stats: Counter[str] = Counter()
        for i, line in enumerate(Path(name).read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as e:
                print(f"{name}:{i}: not JSON: {e}")
                bad += 1
                continue
            n += 1
            ids[row.get("id", "")] += 1
            for p in check_row(row, cats, reg):
                print(f"{name}:{i}: {row.get('id')}: {p}")
                bad += 1
            stats[row.get("lang", "?")] += 1
            stats["near-miss" if row.get("near_miss") else ("positive" if row.get("labels") else "clean")] += 1
        for k, c in ids.items():
            if c > 1:
                print(f"{name}: id {k!r} used {c} times")
                bad += 1
        print(f"{name}: {n} posts, " + ", ".join(f"{k} {v}" for k, v in sorted(stats.items())))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
