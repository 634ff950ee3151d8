"""Bias guard: benign sentences that use identity words must (almost) never be flagged."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from checker import Post, check
from checker.identity import IDENTITY_TERMS

CASES = [json.loads(x) for x in (Path(__file__).parents[1] / "data" / "identity_benign.jsonl")
         .read_text(encoding="utf-8").splitlines() if x.strip()]
MAX_FLAGGED_SHARE = 0.02


def test_the_set_is_big_and_covers_every_kind_of_identity():
    assert len(CASES) >= 200
    assert {c["account"] for c in CASES} == {"personal", "sponsored"}
    kinds = {t for c in CASES for t in c["tags"]}
    assert {"sexual_orientation", "gender_identity", "race", "religion", "disability", "national_origin"} <= kinds
    assert all(c["expect"] == [] for c in CASES)


def test_models_are_on_in_the_shipped_policy(policy):
    # The guard must measure what ships: rules + models.
    rules = {r.id: r for r in policy.rules}
    assert rules["conduct"].model is not None
    assert rules["prohibited-purpose"].model


def test_flagged_share_at_most_two_percent(policy):
    flagged = []
    for c in CASES:
        v = check(Post(text=c["text"], account=c["account"]), policy)
        if v.fired:
            flagged.append((c["id"], c["text"], [(f.rule, f.reason) for f in v.findings]))
    assert len(flagged) / len(CASES) <= MAX_FLAGGED_SHARE, flagged


@pytest.mark.parametrize("text", [
    "My gay neighbor is wonderful.",
    "The Muslim family down the street invited us to dinner.",
    "Our Black and Latino students led the assembly.",
])
def test_identity_words_never_drive_a_model_score(policy, text):
    conduct = {r.id: r for r in policy.rules}["conduct"]
    assert IDENTITY_TERMS <= conduct.model_mask  # the shipped policy applies the identity mask
    s = conduct.model.score(text.lower(), top_n=10, mask=conduct.model_mask, guard=True)
    assert not {w for w, *_ in s.top} & IDENTITY_TERMS
