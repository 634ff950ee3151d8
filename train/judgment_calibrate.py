"""Choosing the judgment heads' thresholds on dev (`python -m train.judgment calibrate`): what the
rule layer alone fires, the bars every threshold must pass (the heads' added findings, the tuned
corpus, the quiet sets) and the search over fire and confirm thresholds."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


# Rules whose own findings the heads may veto: the ones whose lists over-fire against the
# taxonomy (a reference that does not read as official; an opinion that is not a view). The
# conduct and prohibited-purpose lists and models are measured on public sets the heads never
# saw (OLID, spam), so the heads only add to them.
CONFIRMABLE = ("missing-disclaimer", "misrepresentation", "prohibited-purpose")
QUIET_SHARE = 0.02  # the heads may flag at most this share of a rule's quiet set (below)
KEEP = 0.95  # the tuned corpus's per-rule precision and recall bar (tests/checker/test_corpus.py)
CORPUS = ROOT / "tests" / "corpus" / "cases.jsonl"
# Rules the heads judge (directory-opt-out needs the roster's opt-outs; district-logo, images).
JUDGED = ("conduct", "student-privacy", "misrepresentation", "prohibited-purpose", "personal-link",
          "district-link", "missing-disclaimer", "student-connection", "unapproved-site")


@lru_cache(maxsize=1)
def _applies_to() -> dict[str, tuple[str, ...]]:
    from checker.rules import rule_classes

    return {rid: tuple(cls.applies_to) for rid, cls in rule_classes().items()}


def applies(rule: str, account: str) -> bool:
    """Whether a rule applies to a post of this account kind (the rule class's `applies_to`)."""
    return account in _applies_to()[rule]


def folded(text: str) -> str:
    from checker.text import clean_input, fold

    return fold(clean_input(text)).text


def rule_layer(rows: list[dict[str, Any]]) -> tuple[list[dict[str, bool]], list[dict[str, bool]]]:
    """What the checker's rules alone fire on each post (rule -> whether one of its findings
    stands on its own, `Rule.needs_confirmation`; else a head's confirmation decides it), and
    each rule's judgment gate."""
    from checker import load_policy
    from checker.context import Context
    from checker.engine import check, find_sponsored
    from checker.model import Post
    from checker.text import clean_input
    from postguard.commands.check import load_images

    policy = load_policy()
    policy.judgment = None
    by_id = {rule.id: rule for rule in policy.rules}
    fired, gates = [], []
    for r in rows:
        # the corpus's cases may carry images (paths beside cases.jsonl), which rules read too
        images = load_images(r["images"], CORPUS.parent) if r.get("images") else ()
        post = Post(text=r["text"], account=r["account"], site=r.get("site"), target=r.get("target"),
                    links=tuple(r.get("links", ())), images=images)
        stands: dict[str, bool] = {}
        for f in check(post, policy).findings:
            stands[f.rule] = stands.get(f.rule, False) or not by_id[f.rule].needs_confirmation(f)
        fired.append(stands)
        ctx = Context(post, policy.data, r["account"], find_sponsored(policy, post.target, post.site),
                      clean_input(post.text))
        gates.append({rule.id: rule.judgment_gate(post, ctx) for rule in policy.rules})
    return fired, gates


def choose_thresholds(rows: list[dict[str, Any]], probs: np.ndarray, heads: list[str], min_precision: float,
                      keep: tuple[list[dict[str, Any]], np.ndarray] | None = None,
                      quiet: dict[str, list[np.ndarray]] | None = None
                      ) -> tuple[dict[str, float], dict[str, float], dict[str, dict[str, Any]]]:
    """Per rule, on dev: the head threshold that fires the rule alone (t) and the one below which
    the rule layer's finding is dropped (c, 0 = never; CONFIRMABLE rules only), for the best F1
    of (rules and head >= c) or head >= t, with the heads' added findings right >= min_precision
    of the time and the rule's precision >= min(min_precision, the rules' own)."""
    fired, gates = rule_layer(rows)
    gold = [{lab["rule"] for lab in r["labels"]} for r in rows]
    # `keep`: the tuned corpus (tests/corpus), which must keep precision and recall >= KEEP per rule
    k_rows, k_probs = keep if keep is not None else ([], np.zeros((0, len(heads))))
    k_fired, k_gates = rule_layer(k_rows) if k_rows else ([], [])
    k_gold = [set(r["expect"]) for r in k_rows]
    fire: dict[str, float] = {}
    confirm: dict[str, float] = {}
    report: dict[str, dict[str, Any]] = {}
    for rule in JUDGED:
        j = heads.index(rule)
        idx = [i for i, r in enumerate(rows) if applies(rule, r["account"])]
        base = _prf([(rule in fired[i], rule in gold[i]) for i in idx])
        best: tuple[float, float, float, float, float] | None = None  # f1, -c, t, p, r
        # The findings the heads add (where the rules stayed quiet) must be right at least
        # min_precision of the time, and the rule's precision must not fall under the floor
        # or under the rules' own, whichever is lower.
        floor = min(min_precision, base[0])
        ts = sorted({round(float(probs[i, j]), 3) for i in idx if probs[i, j] > 0.05} | {1.01})
        qs = (quiet or {}).get(rule, [])
        for c in (0.0, 0.02, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9) if rule in CONFIRMABLE else (0.0,):
            for t in ts:
                if any(len(q) and float((q[:, j] >= t).mean()) > QUIET_SHARE for q in qs):
                    continue
                pairs = [((rule in fired[i] and (probs[i, j] >= c or fired[i][rule]))
                          or (gates[i].get(rule, True) and probs[i, j] >= t),
                          rule in gold[i]) for i in idx]
                if k_rows:
                    kp = [((rule in k_fired[i] and (k_probs[i, j] >= c or k_fired[i][rule]))
                           or (k_gates[i].get(rule, True) and k_probs[i, j] >= t),
                           rule in k_gold[i]) for i in range(len(k_rows)) if applies(rule, k_rows[i]["account"])]
                    kpr, krc, _ = _prf(kp)
                    if kpr < KEEP or krc < KEEP:
                        continue
                p, r_, f = _prf(pairs)
                added = [(pr, g) for (pr, g), i in zip(pairs, idx, strict=True) if pr and rule not in fired[i]]
                if added and sum(g for _, g in added) / len(added) < min_precision:
                    continue
                if p >= floor and (best is None or (f, -c) > (best[0], best[1])):
                    best = (f, -c, t, p, r_)
        if best is None or best[0] <= base[2]:
            report[rule] = {"mode": "rules alone", "rules_alone": [round(x, 3) for x in base]}
            continue
        f, negc, t, p, r_ = best
        if t <= 1.0:
            fire[rule] = t
        if negc < 0:
            confirm[rule] = -negc
        report[rule] = {"fire": t if t <= 1.0 else None, "confirm": -negc or None, "precision": round(p, 3),
                        "recall": round(r_, 3), "f1": round(f, 3), "rules_alone": [round(x, 3) for x in base]}
    return fire, confirm, report


def _prf(pairs: list[tuple[bool, bool]]) -> tuple[float, float, float]:
    tp = sum(p and g for p, g in pairs)
    fp = sum(p and not g for p, g in pairs)
    fn = sum(g and not p for p, g in pairs)
    p = tp / (tp + fp) if tp + fp else 1.0
    r = tp / (tp + fn) if tp + fn else 1.0
    return p, r, (2 * p * r / (p + r) if p + r else 0.0)


def coded(texts: list[str], seed: int = 14) -> list[str]:
    """Everyday messages with a code that is no student's id appended (an order number, a hex
    string, a ticket or Wi-Fi code): a code alone must not read as a student's record. The
    roster's ids (S + 6 digits) are the rule layer's, and none of these has that shape."""
    import random
    import string

    rng = random.Random(seed)
    hexd, alnum = "0123456789abcdef", string.ascii_uppercase + string.digits
    forms = (lambda: "".join(rng.choice(hexd) for _ in range(8)),
             lambda: "#" + "".join(rng.choice(alnum) for _ in range(4)) + "-" + "".join(rng.choice(alnum) for _ in range(4)),
             lambda: f"order {rng.randint(10**6, 10**8)}",
             lambda: f"TKT-{rng.randint(10000, 99999)}",
             lambda: "wifi code " + "".join(rng.choice(alnum) for _ in range(10)))
    return [f"{t} {forms[i % len(forms)]()}" for i, t in enumerate(texts)]


def quiet_sets(enc: Any) -> dict[str, list[np.ndarray]]:
    """Head probabilities on posts a rule must leave alone, from our templates and held-out
    everyday messages (never the evaluation sets; tests/checker/test_counter_speech.py keeps them disjoint): counter-speech
    for conduct, district near misses and everyday school messages for prohibited-purpose."""
    from train.data import ham_split
    from train.templates import civic_negatives
    from train.templates_district import counter_speech_split, everyday_negatives

    # Each set is capped on its own. The public everyday messages are those held out for
    # validation (SMS and YouTube ham, never their test halves): a sponsored page's chatter is
    # not advertising.
    ham = [e.text for e in ham_split()[1]]
    counter = [e.text for e in counter_speech_split(0)[1]]  # never trained on (`fit --counter-speech`)
    sets = {"conduct": [counter],
            "prohibited-purpose": [[e.text for e in civic_negatives(300) + everyday_negatives(300)], ham],
            "student-privacy": [coded(ham[:300] + counter[:200])]}
    return {rule: [np.array([[p[h] for h in enc.heads] for p in (enc.probs(folded(t)) for t in texts)])
                   for texts in groups]
            for rule, groups in sets.items()}
