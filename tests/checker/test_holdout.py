"""Held-out corpus: `postguard eval` on cases the checker was not tuned on (report, don't tune)."""

import json
import subprocess
import sys
import tomllib
from collections import Counter
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CASES = ROOT / "tests" / "holdout" / "cases.jsonl"
DISTRICT = ROOT / "policies" / "region14" / "district.toml"

# The text-only content rules the held-out set covers (district-logo needs images, and
# student-connection / unapproved-site are not about a post's content).
RULES = (
    "conduct", "student-privacy", "directory-opt-out", "prohibited-purpose",
    "misrepresentation", "personal-link", "district-link", "missing-disclaimer",
)
MIN_POSITIVES = 15
MIN_NEAR_MISSES = 8
MIN_CLEAN = 60
# Deliberately looser than the tuned corpus's targets: these cases were never seen by the
# checker's authors, so they measure generalisation. If a run falls below, report it; do not
# tune the checker against this file (that would turn it into a second tuned corpus).
MIN_MICRO_PRECISION = 0.85
MIN_MICRO_RECALL = 0.75


def _cases() -> list[dict]:
    """The held-out cases, one dict per line."""
    return [json.loads(line) for line in CASES.read_text(encoding="utf-8").splitlines() if line.strip()]


@pytest.fixture(scope="module")
def evaluation(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, list[dict]]:
    """Run `postguard eval --json --predictions` once; return the scores and the predictions."""
    out = tmp_path_factory.mktemp("holdout") / "predictions.jsonl"
    proc = subprocess.run(
        [sys.executable, "-m", "postguard", "eval", str(CASES), "--json", "--predictions", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    scores = json.loads(proc.stdout)
    preds = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines() if line.strip()]
    return scores, preds


def test_corpus_shape() -> None:
    """Every case is in the contract's format and every rule has positives and near misses."""
    registry = {s["url"] for s in tomllib.loads(DISTRICT.read_text(encoding="utf-8"))["sponsored"]}
    cases = _cases()
    assert len({c["id"] for c in cases}) == len(cases) >= 250
    positives: Counter[str] = Counter()
    near: Counter[str] = Counter()
    for c in cases:
        assert {"id", "text", "account", "site", "links", "expect", "tags"} <= c.keys(), c["id"]
        assert c["account"] in ("personal", "sponsored"), c["id"]
        assert set(c["expect"]) <= set(RULES), c["id"]
        if c["account"] == "sponsored":
            assert c["target"] in registry, c["id"]
        positives.update(c["expect"])
        if "near-miss" in c["tags"]:
            near[c["id"].rsplit("-near-", 1)[0]] += 1
    for rule in RULES:
        assert positives[rule] >= MIN_POSITIVES, rule
        assert near[rule] >= MIN_NEAR_MISSES, rule
    clean = [c for c in cases if "clean" in c["tags"]]
    assert len(clean) >= MIN_CLEAN
    assert all(not c["expect"] for c in clean)
    assert {c["account"] for c in clean} == {"personal", "sponsored"}


def test_holdout_eval(evaluation: tuple[dict, list[dict]]) -> None:
    """The eval runs, every rule has its support, and the micro figures clear the held-out bar."""
    scores, preds = evaluation
    cases = _cases()
    print(f"\nheld-out corpus: {scores['cases']} cases, exact match {scores['exact_match']:.3f}")
    print(f"{'rule':<20} {'prec':>6} {'recall':>6} {'f1':>6} {'tp':>4} {'fp':>4} {'fn':>4} {'sup':>4}")
    for rule in RULES:
        r = scores["rules"].get(rule, {})
        print(f"{rule:<20} {r.get('precision', 0):6.3f} {r.get('recall', 0):6.3f} {r.get('f1', 0):6.3f} "
              f"{r.get('tp', 0):4d} {r.get('fp', 0):4d} {r.get('fn', 0):4d} {r.get('support', 0):4d}")
    mi = scores["micro"]
    print(f"{'micro':<20} {mi['precision']:6.3f} {mi['recall']:6.3f} {mi['f1']:6.3f} "
          f"{mi['tp']:4d} {mi['fp']:4d} {mi['fn']:4d} {mi['support']:4d}")

    assert scores["cases"] == len(cases) == len(preds)
    assert [p["id"] for p in preds] == [c["id"] for c in cases]
    expected = Counter(r for c in cases for r in c["expect"])
    for rule in RULES:
        assert scores["rules"][rule]["support"] == expected[rule] >= MIN_POSITIVES, rule
    assert mi["precision"] >= MIN_MICRO_PRECISION
    assert mi["recall"] >= MIN_MICRO_RECALL
