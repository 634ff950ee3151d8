"""misrepresentation: first-person opinion on sponsored sites."""

from __future__ import annotations

import pytest

POSITIVE = [
    "I think the new start times are a terrible idea",
    "In my opinion the board got this one wrong",
    "Personally, I believe homework should be banned",
    "IMO the state tests are a waste of time",
    "The board is wrong about the budget cuts",
    "I strongly oppose the new cell phone policy",
]
NEAR_MISS = [
    "The board approved the 2026-27 calendar on Monday",
    "We are proud of our students' hard work this season",
    "Parents: please complete the transportation survey by Friday",
    "Students shared what they think about the new library in our survey",
    "Join us Thursday to hear the superintendent's budget proposal",
]


@pytest.mark.parametrize("text", POSITIVE)
def test_positive(run, text):
    v = run(text, account="sponsored")
    assert "misrepresentation" in v.fired, text
    assert next(f for f in v.findings if f.rule == "misrepresentation").clause == "D10"


@pytest.mark.parametrize("text", NEAR_MISS)
def test_near_miss(run, text):
    assert "misrepresentation" not in run(text, account="sponsored").fired


def test_personal_account_may_hold_opinions(run):
    assert "misrepresentation" not in run("I think the board is wrong", account="personal").fired
