"""Posts that talk about harm without doing it (tests/data/counter_speech.jsonl): a held-out set,
never trained on, that `conduct` should leave alone."""

from __future__ import annotations

import json
from pathlib import Path

from checker import Post, check

ROOT = Path(__file__).parents[2]
CASES = [json.loads(x) for x in (ROOT / "tests" / "data" / "counter_speech.jsonl").read_text(encoding="utf-8").splitlines()
         if x.strip()]


def test_the_set_is_what_it_says():
    assert len(CASES) >= 150
    assert len({c["id"] for c in CASES}) == len({c["text"] for c in CASES}) == len(CASES)
    assert all(c["expect"] == [] and "counter_speech" in c["tags"] for c in CASES)
    assert sum("identity" in c["tags"] for c in CASES) >= 100


def test_training_templates_share_no_sentence_with_it():
    from train.templates_district import COUNTER_QUIET, counter_speech_examples

    held = {c["text"].lower() for c in CASES}
    # every post the shipped fit (joint.json -> fit -> counter_speech) or its calibration read
    assert not held & {e.text.lower() for e in counter_speech_examples(COUNTER_QUIET + 1000)}


BUDGET = 0.02  # the bar; the shipped system flags 0.63% (docs/models.md, "Counter-speech")


def test_conduct_false_alarms_stay_within_the_measured_share(policy):
    flagged = [(a, c["text"]) for c in CASES for a in ("personal", "sponsored")
               if "conduct" in check(Post(text=c["text"], account=a), policy).fired]
    assert len(flagged) / (2 * len(CASES)) <= BUDGET, flagged
