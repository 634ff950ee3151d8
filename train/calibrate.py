"""Choose the encoder's per-head blend weight and threshold on validation splits.

Runs the shipped int8 model through the checker's own inference path (`checker.neural`), so
what is chosen here is what the checker does. Nothing here is fitted on test data: OLID
validation is 10% of OLID train, spam validation a fifth of the training halves, the ham and
casual posts held out of training (train/neural_data.py `rows()`).

  conduct     max OLID-val macro-F1 of rules OR model, with the identity guard applied, while the
              model adds <= 2% false alarms on held-out everyday messages and flags at most one
              held-out casual post and one post of the tuned corpus that expects no conduct
  commercial  max mean recall on the SMS and YouTube validation fifths at precision >= 0.97 on each
              (rules OR model),
              flagging at most one held-out casual post and 2% of held-out "label: link" posts
  political   lowest threshold that flags at most one held-out everyday message (of ~960); the blend
              weight by recall on our held-out hand-written advocacy posts
"""

from __future__ import annotations

import json
import re

import numpy as np

from checker.neural import Encoder, neutral_view
from checker.text import fold
from checker.textmodel import MODELS_DIR, load_model
from train import data as D
from train.metrics import macro_f1, policy_rule, precision_recall, rule_fires
from train.neural_data import HEADS, MAX_TOKENS, rows

__all__ = ["BLENDS", "COMMERCIAL_FLOOR", "GRID", "MAX_HAM_ADDED", "MAX_LINK_POSTS", "POLITICAL_HAM_BUDGET",
           "calibrate", "precision_recall"]

BLENDS = (1.0, 0.8, 0.65, 0.5)
GRID = np.round(np.arange(0.10, 0.996, 0.005), 3)
MAX_HAM_ADDED = 0.02
COMMERCIAL_FLOOR = 0.97
MAX_LINK_POSTS = 0.02
POLITICAL_HAM_BUDGET = 1  # held-out everyday messages (of ~960) the political head may flag

Val = dict[str, list[D.Example]]
# Per validation set: labels, rules fired, encoder probability, encoder probability of the
# identity-neutral view, linear model probability.
Columns = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]


def _enc_probs(enc: Encoder, folded: list[str], head: int) -> np.ndarray:
    """One pass per text, as the checker runs it: dynamic int8 quantization scales activations
    over the whole batch, so a batched pass scores a text slightly differently (on OLID
    validation, 6 of 300 texts crossed the threshold)."""
    return np.array([enc.raw_probs([t])[0][head] for t in folded])


def _scores(enc: Encoder, head: int, linear: str, folded: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """(encoder, linear model) probabilities of the folded texts for one prohibited-purpose head."""
    lin = load_model(linear)
    return _enc_probs(enc, folded, head), np.array([lin.score(f, guard=True).prob for f in folded])


def _none_found(head: str) -> RuntimeError:
    return RuntimeError(f"calibrate {head}: no blend and threshold meets the false-alarm budgets")


def calibrate(model: str = "neural") -> dict:
    """Blend and threshold per head, written into checker/models/<model>.json. A shared model
    (`train.joint`) keeps these heads in its `neural` namespace (keys `neural:conduct`, ...)."""
    meta_path = MODELS_DIR / f"{model}.json"
    meta = json.loads(meta_path.read_text(encoding="utf-8"))
    key = "neural:" if any(h.startswith("neural:") for h in meta["heads"]) else ""
    enc = Encoder(MODELS_DIR / f"{model}.onnx", {"heads": meta["heads"], "max_tokens": MAX_TOKENS,
                                                 "emoji_words": meta.get("emoji_words", False)},
                  MODELS_DIR / f"{model}-tokenizer.json")
    enc = enc.view("neural") if key else enc
    if list(enc.heads) != list(HEADS):
        raise ValueError(f"{model}: heads {list(enc.heads)}, expected {list(HEADS)}")
    _, val = rows()
    from checker import load_policy
    from checker.rules.conduct import Conduct
    from checker.rules.prohibited_purpose import ProhibitedPurpose

    policy = load_policy(None)
    conduct_rule = policy_rule(policy, "conduct", Conduct)
    pp_rule = policy_rule(policy, "prohibited-purpose", ProhibitedPurpose)
    report: dict = {}
    report["conduct"] = _conduct(enc, val, conduct_rule.model_mask)
    print("conduct", report["conduct"], flush=True)
    report["commercial"] = _commercial(enc, val, pp_rule.allow.get("commercial"))
    print("commercial", report["commercial"], flush=True)
    report["political"] = _political(enc, val)
    print("political", report["political"], flush=True)

    meta.setdefault("thresholds", {}).update({key + h: report[h]["threshold"] for h in HEADS})
    meta.setdefault("blend", {}).update({key + h: report[h]["blend"] for h in HEADS})
    meta["validation"] = report
    meta_path.write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    print("wrote", meta_path)
    return report


# The tuned corpus (tests/corpus) keeps each rule's precision >= 0.95 (tests/checker/test_corpus.py);
# its posts with no conduct finding expected may get at most this many from the model.
MAX_CORPUS_ADDED = 1


def corpus_clean_of_conduct() -> list[D.Example]:
    """The tuned corpus's text posts that expect no conduct finding (conduct 0)."""
    from postguard.commands.eval import read_cases
    from train.judgment_calibrate import CORPUS

    return [D.Example(r["text"], 0, "corpus") for r in read_cases(CORPUS)
            if r.get("text") and not r.get("images") and "conduct" not in r.get("expect", [])]


def _conduct_columns(enc: Encoder, val: Val, mask: frozenset[str]) -> dict[str, Columns]:
    """The conduct head's columns on OLID validation, held-out ham and casual posts, ETHOS' fifth
    and the tuned corpus's posts without conduct."""
    lin = load_model("conduct")
    sets = {"olid": val["olid"], "ham": val["ham"], "casual": val["casual"], "ethos": D.ethos_split()[0][::5],
            "corpus": corpus_clean_of_conduct()}
    cols = {}
    for name, exs in sets.items():
        texts = [r.text for r in exs]
        folded = [fold(t).text for t in texts]
        alts = [neutral_view(f, mask) for f in folded]
        pe = _enc_probs(enc, folded, 0)
        alt = [(i, a) for i, a in enumerate(alts) if a is not None]
        pa = pe.copy()
        if alt:
            pa[[i for i, _ in alt]] = _enc_probs(enc, [a for _, a in alt], 0)
        pl = np.array([lin.score(f, mask=mask, guard=True).prob for f in folded])
        cols[name] = (np.array([r.label for r in exs]), rule_fires(texts, "conduct", "personal").astype(bool), pe, pa, pl)
    return cols


def _conduct(enc: Encoder, val: Val, mask: frozenset[str]) -> dict:
    """Max OLID-val macro-F1 of rules OR model within the ham, casual and corpus budgets."""
    cols = _conduct_columns(enc, val, mask)
    best: tuple[float, float, float, float, int, float] | None = None
    for a in BLENDS:
        for t in GRID:
            def fire(name: str, a: float = a, t: float = t) -> tuple[np.ndarray, np.ndarray]:
                y, rf, pe, pa, pl = cols[name]
                return rf | (((a * pe + (1 - a) * pl) >= t) & ((a * pa + (1 - a) * pl) >= t)), rf
            fh, rh = fire("ham")
            added = (fh & ~rh).mean()
            if added > MAX_HAM_ADDED or fire("casual")[0].sum() > 1:
                continue
            fk, rk = fire("corpus")
            if (fk & ~rk).sum() > MAX_CORPUS_ADDED:
                continue
            f = macro_f1(cols["olid"][0], fire("olid")[0].astype(int))
            if best is None or f > best[0]:
                ye, _, _, _, _ = cols["ethos"]
                fe = fire("ethos")[0]
                tp = int((fe & (ye == 1)).sum())
                ethos_f1 = 2 * tp / max(int(fe.sum()) + int((ye == 1).sum()), 1)
                best = (round(f, 4), a, float(t), round(float(added), 4), int(fire("casual")[0].sum()), round(ethos_f1, 4))
    if best is None:
        raise _none_found("conduct")
    f, a, t, added, cas, ef = best
    return {"blend": a, "threshold": t, "olid_val_macro_f1_rules_or_model": f,
            "olid_val_macro_f1_rules": round(macro_f1(cols["olid"][0], cols["olid"][1].astype(int)), 4),
            "ham_val_added_false_alarms": added, "casual_val_false_alarms": cas,
            "ethos_val_f1_rules_or_model": ef}


def _commercial(enc: Encoder, val: Val, allow: re.Pattern[str] | None) -> dict:
    """Max mean SMS/YouTube validation recall at the precision floor on each, within the casual
    and link-post budgets (`allow`: the rule's allow pattern, which the model does not override)."""
    exs = val["sms"] + val["youtube"]
    texts = [r.text for r in exs]
    folded = [fold(t).text for t in texts]
    y = np.array([r.label for r in exs])
    is_sms = np.arange(len(exs)) < len(val["sms"])
    rf = rule_fires(texts, "prohibited-purpose", "sponsored").astype(bool)
    pe, pl = _scores(enc, 1, "commercial", folded)
    allowed = np.array([bool(allow and allow.search(f)) for f in folded])
    pc_e, pc_l = _scores(enc, 1, "commercial", [fold(r.text).text for r in val["casual"]])
    pk_e, pk_l = _scores(enc, 1, "commercial", [fold(r.text).text for r in val["link_posts"]])
    best: tuple[float, float, float, list[float], list[float]] | None = None
    for a in BLENDS:
        for t in GRID:
            if ((a * pc_e + (1 - a) * pc_l) >= t).sum() > 1:  # at most one held-out casual post
                continue
            if ((a * pk_e + (1 - a) * pk_l) >= t).mean() > MAX_LINK_POSTS:
                continue
            pred = rf | (((a * pe + (1 - a) * pl) >= t) & ~allowed)
            per = [precision_recall(pred[part], y[part]) for part in (is_sms, ~is_sms)]  # each, not only pooled
            if min(p for p, _ in per) >= COMMERCIAL_FLOOR:
                rec = sum(r for _, r in per) / 2
                if best is None or rec > best[0]:
                    best = (round(rec, 4), a, float(t), [round(p, 4) for p, _ in per], [round(r, 4) for _, r in per])
    if best is None:
        raise _none_found("commercial")
    rec, a, t, prec, recs = best
    return {"blend": a, "threshold": t, "val_recall_mean": rec, "val_precision_sms_youtube": prec,
            "val_recall_sms_youtube": recs, "val_n": len(exs)}


def _political(enc: Encoder, val: Val) -> dict:
    """Lowest threshold within the ham budget; the blend by recall on our held-out advocacy posts."""
    ham = [fold(r.text).text for r in val["ham"]]
    own = [fold(r.text).text for r in val["political_own"]]
    ph_e, ph_l = _scores(enc, 2, "political", ham)
    po_e, po_l = _scores(enc, 2, "political", own)
    best: tuple[float, float, float, float] | None = None
    for a in BLENDS:
        sh, so = a * ph_e + (1 - a) * ph_l, a * po_e + (1 - a) * po_l
        t = next((float(c) for c in GRID if (sh >= c).sum() <= POLITICAL_HAM_BUDGET), float(GRID[-1]))
        rec = float((so >= t).mean())
        if best is None or rec > best[0]:
            best = (round(rec, 4), a, t, round(float((sh >= t).mean()), 4))
    if best is None:
        raise _none_found("political")
    rec, a, t, fa = best
    return {"blend": a, "threshold": t, "own_val_recall": rec, "ham_val_false_alarms": fa,
            "own_val_n": len(own), "ham_val_n": len(ham)}
