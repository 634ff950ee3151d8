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
from train.fit import Fitted

EXAMPLES = Path(__file__).parent / "examples"


def own(name: str) -> list[tuple[int, str, str]]:
    """Our own examples: (label, category, text) from train/examples/<name>.tsv."""
    out = []
    for line in (EXAMPLES / name).read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        parts = line.split("\t")
        if len(parts) == 2:
            out.append((int(parts[0]), "", parts[1]))
        else:
            out.append((int(parts[0]), parts[1], parts[2]))
    return out


def clean_word_examples() -> list[D.Example]:
    """Two neutral sentences per clean word that contains an offensive string (Scunthorpe)."""
    out = []
    for line in (EXAMPLES / "clean_words.txt").read_text(encoding="utf-8").splitlines():
        w = line.strip()
        if w and not w.startswith("#"):
            out.append(D.Example(f"We talked about {w} in class today.", 0, "own"))
            out.append(D.Example(f"Here is a photo of the {w} from our trip", 0, "own"))
    return out


def f1_pos(y: np.ndarray, p: np.ndarray) -> float:
    """F1 of the positive class."""
    tp = int(((y == 1) & (p == 1)).sum())
    d = 2 * tp + int(((y == 0) & (p == 1)).sum()) + int(((y == 1) & (p == 0)).sum())
    return 2 * tp / d if d else 0.0


def macro_f1(y: np.ndarray, p: np.ndarray) -> float:
    """Macro-F1 over both classes."""
    return (f1_pos(y, p) + f1_pos(1 - y, 1 - p)) / 2


def rule_fires(texts: list[str], rule: str, account: str) -> np.ndarray:
    """1 where the rule layer alone (models switched off) fires on the text."""
    from checker import Post, check, load_policy

    policy = load_policy(None)
    for r in policy.rules:
        if hasattr(r, "model"):
            r.model = None
    return np.array([int(rule in check(Post(text=t, account=account), policy).fired) for t in texts])


def checker_probs(fitted: Fitted, texts: list[str], mask: frozenset[str] = frozenset()) -> np.ndarray:
    """Probabilities exactly as the checker computes them (exported table, identity mask)."""
    import tempfile

    from checker.text import fold
    from checker.textmodel import TextModel

    with tempfile.TemporaryDirectory() as d:
        fitted.export(Path(d) / "m.npz", {"name": "tmp"})
        tm = TextModel(Path(d) / "m.npz")
    return np.array([tm.score(fold(t).text, mask=mask, guard=True).prob for t in texts])


def shift(fitted: Fitted, threshold: float) -> None:
    """Move the intercept so that probability 0.5 means `threshold`."""
    fitted.clf.intercept_ = fitted.clf.intercept_ - math.log(threshold / (1 - threshold))


def train_conduct(report: dict) -> None:
    """Conduct: OLID train (minus validation), ETHOS train half (minus validation), own examples.

    Davidson is left out: at any weight it lowered OLID validation (docs/models.md).
    """
    tr, va = D.olid_split()
    etr, _ = D.ethos_split()
    eva = etr[::5]
    etr_fit = [r for i, r in enumerate(etr) if i % 5]
    mine = [D.Example(t, lab, "own") for lab, _, t in own("conduct.tsv")] + clean_word_examples()
    rows = tr + etr_fit + mine
    m = Fitted(rows, c=CONDUCT_C, weights={"ethos": 2.0, "own": 3.0}, class_weight=None)
    yv = np.array([r.label for r in va])
    from checker import load_policy

    mask = {r.id: r for r in load_policy(None).rules}["conduct"].model_mask  # as the rule scores
    pv = checker_probs(m, [r.text for r in va], mask)
    rv = rule_fires([r.text for r in va], "conduct", "personal")
    ye = np.array([r.label for r in eva])
    pe = checker_probs(m, [r.text for r in eva], mask)
    re_ = rule_fires([r.text for r in eva], "conduct", "personal")
    # Threshold on validation only, for what ships: rules OR model, best OLID-val macro-F1.
    grid = [round(float(t), 2) for t in np.arange(0.30, 0.91, 0.02)]
    scores = [(round(macro_f1(yv, rv | (pv >= t)), 3), t) for t in grid]
    best, t = max(scores)
    report["conduct"] = {"rows": len(rows), "C": CONDUCT_C, "threshold": t, "olid_val_macro_f1_rules_or_model": best,
                         "olid_val_macro_f1_rules": round(macro_f1(yv, rv), 3),
                         "olid_val_macro_f1_model": round(macro_f1(yv, (pv >= t).astype(int)), 3),
                         "ethos_val_f1_rules_or_model": round(f1_pos(ye, re_ | (pe >= t)), 3)}
    shift(m, t)
    m.export(MODELS_DIR / "conduct.npz", {"name": "conduct", "threshold_chosen": t, **report["conduct"]})


def train_binary(name: str, pos: list[D.Example], neg: list[D.Example], val: list[D.Example], report: dict,
                 min_precision: float = 0.97) -> None:
    """A prohibited-purpose model: highest validation recall at precision >= `min_precision`."""
    rows = pos + neg
    m = Fitted(rows, c=4.0, weights={"own": 3.0})
    y = np.array([r.label for r in val])
    p = checker_probs(m, [r.text for r in val])
    rv = rule_fires([r.text for r in val], "prohibited-purpose", "sponsored").astype(bool)
    best = (0.0, 0.9)
    for t in np.arange(0.30, 0.96, 0.02):
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
    train_binary("commercial", [r for r in rows if r.label], [r for r in rows if not r.label], val, report)


POLITICAL_HINTS = (
    "maga", "trump", "obama", "clinton", "hillary", "democrat", "republican", "gop", "liberal", "conservative",
    "congress", "senate", "senator", "vote", "voting", "election", "kavanaugh", "potus", "president",
    "antifa", "left", "leftist", "dems", "libs", "socialist", "midterm", "gun control", "2a", "nra",
    "immigration", "border", "impeach", "campaign", "ballot", "walkaway", "qanon", "feinstein", "pelosi",
)


def weak_political() -> tuple[list[D.Example], list[D.Example]]:
    """OLID train tweets (validation split excluded) weakly labeled political by topic words."""
    tr, _ = D.olid_split()
    import re

    pat = re.compile(r"\b(?:" + "|".join(re.escape(h) for h in POLITICAL_HINTS) + r")\w*", re.I)
    pos = [D.Example(r.text, 1, "olid-political") for r in tr if pat.search(r.text)]
    neg = [D.Example(r.text, 0, "olid-other") for r in tr if not pat.search(r.text)]
    return pos, neg


def train_political(report: dict) -> None:
    """Political advocacy: weakly labeled OLID train tweets + own examples; negatives: other OLID
    tweets, SMS/YouTube ham, own district posts.

    The weak labels are keyword-made, so validation recall on them says little; the threshold is
    instead the lowest one that keeps false alarms on held-out ham (everyday, non-political
    messages) at or under 0.5%.
    """
    pos, olid_neg = weak_political()
    rng = random.Random(D.SEED)
    ham = [D.Example(r.text, 0, "ham") for w in ("sms", "youtube") for r in D.spam_split(w)[0] if not r.label]
    rng.shuffle(pos)
    rng.shuffle(olid_neg)
    rng.shuffle(ham)
    val_pos, pos = pos[: len(pos) // 10], pos[len(pos) // 10:]
    val_ham, ham = ham[: len(ham) // 10], ham[len(ham) // 10:]
    mine = own("prohibited.tsv") + [(0, "none", t) for lab, _, t in own("conduct.tsv") if lab == 0]
    own_rows = [D.Example(t, int(cat == "political"), "own") for lab, cat, t in mine]
    rows = pos + olid_neg + ham + own_rows
    m = Fitted(rows, c=4.0, weights={"own": 3.0})
    p_ham = checker_probs(m, [r.text for r in val_ham])
    p_pos = checker_probs(m, [r.text for r in val_pos])
    t = 0.95
    for cand in np.arange(0.30, 0.96, 0.02):
        if (p_ham >= cand).mean() <= 0.005:
            t = round(float(cand), 2)
            break
    report["political"] = {"rows": len(rows), "positives": sum(r.label for r in rows), "threshold": t,
                           "val_ham_false_alarms": round(float((p_ham >= t).mean()), 4),
                           "val_weak_political_recall": round(float((p_pos >= t).mean()), 3)}
    shift(m, t)
    m.export(MODELS_DIR / "political.npz", {"name": "political", "threshold_chosen": t, **report["political"]})


CONDUCT_C = 0.5  # chosen on OLID validation (docs/models.md)


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
