"""Build the judgment data set's splits from the writers' files and the second labeling.

    python3 tools/judgment/build.py            # writes data/judgment/{train,dev}.jsonl,
                                               # data/judgment/sealed/test.jsonl, AGREEMENT.md

Inputs (data/judgment/):
- `raw/*.jsonl` (train and dev) and `sealed/t*.jsonl` (test): each post as its writer wrote
  and labeled it (label A).
- `second/*.jsonl`: `{"id", "labels"}`, the same posts labeled again by someone who saw only the
  text, the account, the site and the links (label B).
- `settled/*.jsonl`: `{"id", "labels", "note"}`, the decision on each post where A and B
  disagreed, by a third reader who saw both and the taxonomy.

The final label of a post is A when A and B agree on every rule, else the settled one. A post
that disagrees and has no settled label is left out (and counted). Cohen's kappa is computed per
rule on A vs B (does the post break the rule or not), over the posts where the rule applies.
Train and dev are split from raw/ by a stable hash of the id (one in five to dev); the test
split is sealed/ only, written by other writers, and is never used for a choice.
"""

from __future__ import annotations

import hashlib
import json
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "data" / "judgment"
sys.path.insert(0, str(Path(__file__).resolve().parent))
from validate import ONLY, check_row, registry, taxonomy  # noqa: E402

RULES = [r for r in taxonomy() if r != "district-logo"]


def read(paths: list[Path]) -> dict[str, dict]:
    out: dict[str, dict] = {}
    for p in paths:
        for line in p.read_text(encoding="utf-8").splitlines():
            if line.strip():
                row = json.loads(line)
                out[row["id"]] = row
    return out


def rules_of(labels: list[dict]) -> dict[str, str]:
    return {lab["rule"]: lab.get("category") for lab in labels}


def applies(rule: str, account: str) -> bool:
    need = ONLY.get(rule)
    return need is None or need == account


def kappa(a: list[bool], b: list[bool]) -> float | None:
    n = len(a)
    if not n:
        return None
    po = sum(x == y for x, y in zip(a, b, strict=True)) / n
    pa, pb = sum(a) / n, sum(b) / n
    pe = pa * pb + (1 - pa) * (1 - pb)
    return 1.0 if pe == 1 else (po - pe) / (1 - pe)


def final_rows(posts: dict[str, dict], second: dict[str, dict], settled: dict[str, dict],
               stats: Counter[str]) -> list[dict]:
    out = []
    for pid, row in posts.items():
        a = rules_of(row["labels"])
        b_row = second.get(pid)
        if b_row is None:
            stats["no second label"] += 1
            labels = row["labels"]
        elif a == rules_of(b_row["labels"]):
            labels = row["labels"]
        elif pid in settled:
            labels = settled[pid]["labels"]
            stats["settled"] += 1
        else:
            stats["disagreed, not settled (left out)"] += 1
            continue
        out.append({**row, "labels": labels, "label_a": row["labels"],
                    "label_b": b_row["labels"] if b_row else None,
                    "expect": sorted({lab["rule"] for lab in labels})})
    return out


def agreement(posts: dict[str, dict], second: dict[str, dict]) -> list[str]:
    lines = ["| rule | posts | A positives | B positives | agreement | Cohen's kappa |", "|---|---:|---:|---:|---:|---:|"]
    for rule in RULES:
        a, b = [], []
        for pid, row in posts.items():
            if pid in second and applies(rule, row["account"]):
                a.append(rule in rules_of(row["labels"]))
                b.append(rule in rules_of(second[pid]["labels"]))
        k = kappa(a, b)
        agree = sum(x == y for x, y in zip(a, b, strict=True)) / len(a) if a else 0.0
        lines.append(f"| `{rule}` | {len(a)} | {sum(a)} | {sum(b)} | {agree:.3f} | {'-' if k is None else f'{k:.3f}'} |")
    return lines


def main() -> int:
    cats, reg = taxonomy(), registry()
    second = read(sorted((DATA / "second").glob("*.jsonl"))) if (DATA / "second").is_dir() else {}
    settled = read(sorted((DATA / "settled").glob("*.jsonl"))) if (DATA / "settled").is_dir() else {}
    report = ["# Agreement between the two labelings", ""]
    sealed_texts: set[str] = set()
    for name, paths in (("test", sorted((DATA / "sealed").glob("t[0-9]*.jsonl"))),
                        ("train+dev", sorted((DATA / "raw").glob("*.jsonl")))):
        posts = read(paths)
        if name == "test":
            sealed_texts = {" ".join(r["text"].lower().split()) for r in posts.values()}
        else:  # a post that also stands in the sealed split (a stock greeting) is not trained on
            posts = {k: r for k, r in posts.items() if " ".join(r["text"].lower().split()) not in sealed_texts}
        bad = [(pid, p) for pid, row in posts.items() for p in check_row(row, cats, reg)]
        if bad:
            for pid, p in bad[:20]:
                print(f"{pid}: {p}", file=sys.stderr)
            return 1
        stats: Counter[str] = Counter()
        rows = final_rows(posts, second, settled, stats)
        if name == "test":
            splits = {"sealed/test.jsonl": rows}
        else:
            splits = {"train.jsonl": [], "dev.jsonl": []}
            for r in rows:
                dev = int(hashlib.sha256(r["id"].encode()).hexdigest(), 16) % 5 == 0
                splits["dev.jsonl" if dev else "train.jsonl"].append(r)
        for fname, rs in splits.items():
            with (DATA / fname).open("w", encoding="utf-8") as fh:
                for r in sorted(rs, key=lambda r: r["id"]):
                    fh.write(json.dumps(r, ensure_ascii=False) + "\n")
            langs = Counter(r["lang"] for r in rs)
            print(f"{fname}: {len(rs)} posts ({', '.join(f'{k} {v}' for k, v in sorted(langs.items()))})")
        report += [f"## {name}: {len(posts)} posts, {sum(p in second for p in posts)} labeled twice; "
                   + ", ".join(f"{k}: {v}" for k, v in sorted(stats.items())), "", *agreement(posts, second), ""]
    (DATA / "AGREEMENT.md").write_text("\n".join(report), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
