"""`python -m train [conduct|political|commercial|all]`: fit the shipped text models.

Fixed seeds, training splits only (see train/data.py), thresholds chosen on validation splits.
Each artifact's intercept is shifted so that probability 0.5 is the chosen threshold: the rules'
`model_threshold = 0.5` then means "as validated", and a district can move it either way.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import sys
from pathlib import Path

import numpy as np

from checker.textmodel import MODELS_DIR
from train import data as D
from train.corpus import clean_word_examples, district_posts, own, own_lines, weak_political
from train.fit import Fitted
from train.metrics import f1_pos, macro_f1, policy_rule, rule_fires
from train.templates import (
    advocacy_examples,
    civic_negatives,
    figure_examples,
    policy_examples,
    political_examples,
)
from train.templates_district import everyday_negatives


def checker_probs(fitted: Fitted, texts: list[str], mask: frozenset[str] = frozenset()) -> np.ndarray:
    """Probabilities exactly as the checker computes them (exported table, identity mask)."""
    import tempfile

    from checker.text import fold
    from checker.textmodel import TextModel

    with tempfile.TemporaryDirectory() as d:
        fitted.export(Path(d) / "m.npz", {"name": "tmp"})
        tm = TextModel(Path(d) / "m.npz")
    return np.array([tm.score(fold(t).text, mask=mask, guard=True).prob for t in texts])


def checker_scores(fitted: Fitted, texts: list[str], mask: frozenset[str]) -> tuple[np.ndarray, np.ndarray]:
    """(probability, contribution of the top word) per text, as the conduct rule computes them."""
    import tempfile

    from checker.text import fold
    from checker.textmodel import TextModel

    with tempfile.TemporaryDirectory() as d:
        fitted.export(Path(d) / "m.npz", {"name": "tmp"})
        tm = TextModel(Path(d) / "m.npz")
    out = [tm.score(fold(t).text, mask=mask, guard=True) for t in texts]
    return np.array([s.prob for s in out]), np.array([s.top[0][1] if s.top else 0.0 for s in out])


def shift(fitted: Fitted, threshold: float) -> None:
    """Move the intercept so that probability 0.5 means `threshold`."""
    fitted.clf.intercept_ = fitted.clf.intercept_ - math.log(threshold / (1 - threshold))


def train_conduct(report: dict) -> None:
    """Conduct: OLID train (minus validation), own examples, a little everyday ham.

    ETHOS is GPL-3.0: it is used only to measure (its validation fifth here, its test half in
    bench/quality), never to fit the shipped model, so the artifact carries no copyleft data.

    Davidson is left out: at any weight it lowered OLID validation (docs/models.md). The
    operating point (threshold, minimum contribution of the top word) maximizes OLID
    validation macro-F1 for rules OR model, subject to the model adding at most 1% false
    alarms on held-out everyday messages (a third of the ham, never trained on) and at most one
    of our held-out casual posts (`examples/casual.txt`, odd lines).
    """
    tr, va = D.olid_split()
    etr, _ = D.ethos_split()
    eva = etr[::5]
    mine = [D.Example(t, lab, "own") for lab, _, t in own("conduct.tsv")] + clean_word_examples() + district_posts()
    ham_fit, ham_val = D.ham_split()
    casual = own_lines("casual.txt")
    casual_fit = [D.Example(x, 0, "own") for x in casual[::2]]
    casual_val = casual[1::2]
    mine += casual_fit
    # A little ham teaches the model what everyday, non-political talk looks like (OLID's "NOT"
    # tweets are mostly political arguments); more than this weight lowered OLID validation.
    rows = tr + mine + ham_fit
    m = Fitted(rows, c=CONDUCT_C, weights={"ethos": 2.0, "own": 3.0, "ham": HAM_WEIGHT}, class_weight=None)
    from checker import load_policy
    from checker.rules.conduct import Conduct

    mask = policy_rule(load_policy(None), "conduct", Conduct).model_mask  # as the rule scores
    yv = np.array([r.label for r in va])
    pv, cv = checker_scores(m, [r.text for r in va], mask)
    rv = rule_fires([r.text for r in va], "conduct", "personal")
    ph, ch = checker_scores(m, [r.text for r in ham_val], mask)
    rh = rule_fires([r.text for r in ham_val], "conduct", "personal")
    pcas, ccas = checker_scores(m, casual_val, mask)
    ye = np.array([r.label for r in eva])
    pe, ce = checker_scores(m, [r.text for r in eva], mask)
    re_ = rule_fires([r.text for r in eva], "conduct", "personal")
    best = (-1.0, 0.5, 0.0)
    for t in np.arange(0.30, 0.91, 0.02):
        for c in (0.0, 0.1, 0.2, 0.3, 0.4, 0.5):
            added = ((~rh.astype(bool)) & (ph >= t) & (ch >= c)).mean()
            if added > MAX_HAM_ADDED or ((pcas >= t) & (ccas >= c)).sum() > 1:
                continue
            f = round(macro_f1(yv, rv | ((pv >= t) & (cv >= c))), 3)
            if f > best[0]:
                best = (f, round(float(t), 2), c)
    f, t, c = best
    report["conduct"] = {
        "rows": len(rows), "C": CONDUCT_C, "ham_weight": HAM_WEIGHT, "threshold": t, "min_word": c,
        "olid_val_macro_f1_rules_or_model": f, "olid_val_macro_f1_rules": round(macro_f1(yv, rv), 3),
        "ham_val_added_false_alarms": round(float(((~rh.astype(bool)) & (ph >= t) & (ch >= c)).mean()), 4),
        "casual_val_false_alarms": int(((pcas >= t) & (ccas >= c)).sum()), "casual_val_n": len(casual_val),
        "ethos_val_f1_rules_or_model": round(f1_pos(ye, re_ | ((pe >= t) & (ce >= c))), 3)}
    shift(m, t)
    m.export(MODELS_DIR / "conduct.npz", {"name": "conduct", "threshold_chosen": t, **report["conduct"]})


def train_binary(name: str, pos: list[D.Example], neg: list[D.Example], val: list[D.Example], report: dict,
                 min_precision: float = 0.97, c: float = 4.0) -> None:
    """A prohibited-purpose model: highest validation recall at precision >= `min_precision`."""
    rows = pos + neg
    m = Fitted(rows, c=c, weights={"own": 3.0, "olid-neg": 0.5})
    y = np.array([r.label for r in val])
    p = checker_probs(m, [r.text for r in val])
    rv = rule_fires([r.text for r in val], "prohibited-purpose", "sponsored").astype(bool)
    best = (0.0, 0.99)
    for t in np.arange(0.30, 0.995, 0.01):
        pred = rv | (p >= t)
        tp = int((pred & (y == 1)).sum())
        prec = tp / max(int(pred.sum()), 1)
        rec = tp / max(int((y == 1).sum()), 1)
        if prec >= min_precision and rec > best[0]:
            best = (rec, round(float(t), 2))
    rec, t = best
    report[name] = {"rows": len(rows), "positives": len(pos), "threshold": t, "val_recall": round(rec, 3),
                    "val_n": len(val)}
    shift(m, t)
    m.export(MODELS_DIR / f"{name}.npz", {"name": name, "threshold_chosen": t, **report[name]})


def train_commercial(report: dict) -> None:
    """Commercial/solicitation: SMS + YouTube spam training halves (minus validation) + own examples."""
    rows: list[D.Example] = []
    val: list[D.Example] = []
    for which in ("sms", "youtube"):
        tr, _ = D.spam_split(which)
        val += tr[::5]
        rows += [r for i, r in enumerate(tr) if i % 5]
    mine = own("prohibited.tsv")
    rows += [D.Example(t, int(cat == "commercial"), "own") for lab, cat, t in mine if cat != "political"]
    rows += district_posts("district_ads.txt")
    # General talk that is not selling anything (OLID train tweets): "check", "follow" and links
    # are not commercial by themselves.
    rows += [D.Example(r.text, 0, "olid-neg") for r in D.olid_split()[0]]
    train_binary("commercial", [r for r in rows if r.label], [r for r in rows if not r.label], val, report,
                 min_precision=COMMERCIAL_FLOOR, c=COMMERCIAL_C)


def train_political(report: dict) -> None:
    """Political advocacy: weakly labeled OLID train tweets + own examples; negatives: other OLID
    tweets, SMS/YouTube ham, own district posts.

    The weak labels are keyword-made, so validation recall on them says little; the threshold is
    instead the lowest one that keeps false alarms on held-out ham (everyday, non-political
    messages) at or under POLITICAL_HAM_BUDGET.
    """
    pos, olid_neg = weak_political()
    rng = random.Random(D.SEED)
    ham, val_ham = D.ham_split()
    rng.shuffle(pos)
    rng.shuffle(olid_neg)
    val_pos, pos = pos[: len(pos) // 10], pos[len(pos) // 10:]
    mine = own("prohibited.tsv") + [(0, "none", t) for lab, _, t in own("conduct.tsv") if lab == 0]
    own_rows = [D.Example(t, int(cat == "political"), "own") for lab, cat, t in mine]
    own_rows += district_posts("district_ads.txt")
    own_rows += political_examples()
    # Many registers of advocacy (floor votes, press, petitions, ballot questions) and civic
    # district near misses, templated (train/templates.py), plus everyday posts that use campaign words.
    own_rows += advocacy_examples(2500) + policy_examples(2500) + figure_examples() + civic_negatives()
    own_rows += everyday_negatives()
    rows = pos + olid_neg + ham + own_rows
    # C and the weights were chosen by recall on our held-out hand-written posts
    # (examples/political_val.txt) at the ham-budget threshold (docs/models.md).
    m = Fitted(rows, c=POLITICAL_C, weights={"own": 3.0, "tmpl": 2.0, "tmpl-neg": 2.0, "olid-political": 0.3,
                                             "olid-other": 0.5})
    p_ham = checker_probs(m, [r.text for r in val_ham])
    p_pos = checker_probs(m, [r.text for r in val_pos])
    t = 0.95
    for cand in np.arange(0.30, 0.96, 0.02):
        if (p_ham >= cand).mean() <= POLITICAL_HAM_BUDGET:
            t = round(float(cand), 2)
            break
    own_val = own_lines("political_val.txt")
    p_own = checker_probs(m, own_val)
    report["political"] = {"rows": len(rows), "positives": sum(r.label for r in rows), "threshold": t,
                           "own_val_recall": round(float((p_own >= t).mean()), 3),
                           "val_ham_false_alarms": round(float((p_ham >= t).mean()), 4),
                           "val_weak_political_recall": round(float((p_pos >= t).mean()), 3)}
    shift(m, t)
    m.export(MODELS_DIR / "political.npz", {"name": "political", "threshold_chosen": t, **report["political"]})


# The political threshold: lowest with <= 0.1% false alarms on the held-out ham (D.ham_split). A 0.5%
# budget on a tenth (one message) let more everyday messages through (docs/models.md).
POLITICAL_HAM_BUDGET = 0.001
POLITICAL_C = 2.0  # 0.5 / 1 / 2 / 4 / 16 tried (docs/models.md)
COMMERCIAL_C = 8.0  # 4 / 8 / 16 tried (docs/models.md)
COMMERCIAL_FLOOR = 0.97  # validation precision floor for the commercial threshold
CONDUCT_C = 0.5  # chosen on OLID validation (docs/models.md)
HAM_WEIGHT = 0.2  # 0 / 0.2 / 0.5 tried (docs/models.md)
MAX_HAM_ADDED = 0.02  # the benign-post budget


def main() -> int:
    """Train the requested models and print what validation chose."""
    ap = argparse.ArgumentParser(prog="python -m train", description=__doc__)
    ap.add_argument("which", nargs="?", default="all", choices=("all", "conduct", "political", "commercial"))
    args = ap.parse_args()
    report: dict = {}
    if args.which in ("all", "conduct"):
        train_conduct(report)
    if args.which in ("all", "commercial"):
        train_commercial(report)
    if args.which in ("all", "political"):
        train_political(report)
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
