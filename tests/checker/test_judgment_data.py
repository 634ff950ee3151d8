"""The judgment data set (data/judgment/): size, languages, splits that do not overlap, every
rule and category present, a sealed test split whose content is pinned, and the shape of every
row (tools/judgment/validate.py)."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "data" / "judgment"


def rows(name: str) -> list[dict]:
    return [json.loads(x) for x in (DATA / name).read_text(encoding="utf-8").splitlines() if x.strip()]


@pytest.fixture(scope="module")
def splits():
    return {"train": rows("train.jsonl"), "dev": rows("dev.jsonl"), "test": rows("sealed/test.jsonl")}


def test_size_languages_and_near_misses(splits):
    allrows = [r for rs in splits.values() for r in rs]
    assert len(allrows) >= 3000 and len(splits["test"]) >= 600
    spanish = sum(r["lang"] in ("es", "mixed") for r in allrows)
    assert spanish / len(allrows) >= 0.15
    assert sum(r["lang"] in ("es", "mixed") for r in splits["test"]) / len(splits["test"]) >= 0.15
    assert sum(bool(r.get("near_miss")) for r in allrows) / len(allrows) >= 0.40
    assert {r["account"] for r in splits["test"]} == {"personal", "sponsored"}


def test_splits_do_not_overlap(splits):
    ids = [set(r["id"] for r in rs) for rs in splits.values()]
    assert not (ids[0] & ids[1] or ids[0] & ids[2] or ids[1] & ids[2])
    norm = {k: {" ".join(r["text"].lower().split()) for r in rs} for k, rs in splits.items()}
    assert not (norm["test"] & (norm["train"] | norm["dev"]))
    # the test split's writers wrote nothing else
    assert {r["id"].split("-")[0] for r in splits["test"]} <= {"t1", "t2"}
    assert not {r["id"].split("-")[0] for r in splits["train"] + splits["dev"]} & {"t1", "t2"}


def test_every_rule_and_category_is_in_train_and_test(splits):
    sys.path.insert(0, str(ROOT / "tools" / "judgment"))
    from validate import taxonomy

    for name in ("train", "test"):
        seen = Counter((lab["rule"], lab["category"]) for r in splits[name] for lab in r["labels"])
        for rule, cats in taxonomy().items():
            if rule == "district-logo":  # images: measured on the logo set, not here
                continue
            for c in cats:
                assert seen[(rule, c)] >= 1, (name, rule, c)


def test_the_test_split_is_sealed():
    """Its content hash is pinned: changing it is a deliberate act (data/judgment/README.md)."""
    pinned = (DATA / "sealed" / "SHA256").read_text(encoding="utf-8").split()[0]
    assert hashlib.sha256((DATA / "sealed" / "test.jsonl").read_bytes()).hexdigest() == pinned


def test_every_file_has_the_documented_shape():
    files = [str(p) for p in sorted(DATA.glob("*.jsonl")) + sorted((DATA / "sealed").glob("*.jsonl"))
             + sorted((DATA / "raw").glob("*.jsonl"))]
    out = subprocess.run([sys.executable, str(ROOT / "tools" / "judgment" / "validate.py"), *files],
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stdout[-2000:]
