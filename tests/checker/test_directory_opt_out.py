"""directory-opt-out: opted-out students on sponsored sites (names from the FICTIONAL roster)."""

from __future__ import annotations

import pytest

SPONSORED_PAGE = "https://www.facebook.com/NonnewaugAthletics"

POSITIVE = [
    "Congratulations to Mason Brandt on making All-State!",
    "Brandt, Mason — Student of the Month",
    "Shout out to Jordy Whitfield for 20 points tonight",
    "Great photo of MASON BRANDT's science project",
    "Congrats to Mason on his award",
    "Luke Fenwick led the team in rebounds",
    "Senior Mason won the essay contest",
    "Mason B. was named captain",
]
NEAR_MISS = [
    "Mr. Brandt's class is making Mason jars for the craft fair",
    "Mason jars are available at the plant sale",
    "Coach Brandt thanks all the parents who volunteered",
    "Congratulations to Tyler Quinlan on making All-State!",  # not opted out
    "Jordan will lead the field trip to the Jordan River exhibit",
    "Ms. Fenwick's reading group visited the library",
]


@pytest.mark.parametrize("text", POSITIVE)
def test_positive(run, text):
    v = run(text, account=None, target=SPONSORED_PAGE)
    assert v.account == "sponsored"
    assert "directory-opt-out" in v.fired, text


@pytest.mark.parametrize("text", NEAR_MISS)
def test_near_miss(run, text):
    v = run(text, account="sponsored")
    assert "directory-opt-out" not in v.fired, [(f.reason, f.excerpt) for f in v.findings]


def test_personal_account_never_fires(run):
    assert "directory-opt-out" not in run("Congratulations to Mason Brandt!", account="personal").fired
