"""missing-disclaimer: district references on personal posts need a personal-views statement."""

from __future__ import annotations

import pytest

POSITIVE = [
    "Nonnewaug Chargers kick off at 7 tonight, see you there!",   # a schedule
    "Region 14 is cutting the music budget again",
    "The Region 14 Board of Education voted last night to change start times",
    "Nonnewaug FFA took first place at the Big E",                # a result
    "heads up BES fam, friday is pajama day AND early release at 12:50",  # initials, a schedule
    "Snow day!! Details: https://www.ctreg14.org/closings",        # a shared district page (Decision 55)
]
NEAR_MISS = [
    # A reference that does not read as an official communication (docs/policy-taxonomy.md §9:
    # a first-person opinion, or a remark with no schedule, result, decision or institutional
    # voice) needs no disclaimer; the judgment heads confirm the rule's reference finding.
    "Great turnout at Woodbury Middle School's science fair",
    "Can't believe what the superintendent said at the meeting",
    "Our school district budget is a mess",
    "Beautiful fall day in Woodbury",
    "Bethlehem Fair this weekend, who's going?",
    "Driving down Nonnewaug Road to the farm stand",
    "Great game tonight, go team!",
    # Pride and praise with no information (Decisions 33, 43), a personal mention (Decision 44),
    # a first-person opinion (Decision 46), the UK's NHS and the LA Chargers.
    "So proud of the Nonnewaug Chargers tonight!",
    "First day at WMS and I already got lost twice",
    "I think a later start time would be great for NHS kids",
    "My cousin just got a nursing job with the NHS in Leeds!",
    "LA Chargers fans, is this finally our year?",
    # A cheer alone, however it names the team, is not official (Decision 43; `cheer_max_words`).
    "Go Nonnewaug football!",
    "Nonnewaug Chargers forever 💙💛",
    "So proud of the Nonnewaug Chargers tonight! My views are my own.",
    "Region 14 is cutting the music budget. Views expressed are mine alone and do not represent the district.",
    "Woodbury Middle School science fair was fun (speaking for myself, not my employer)",
    "Region 14 board meeting tonight — these are my personal opinions, not the district's.",
    "Proud of the Nonnewaug Chargers! #myviewsmyown",
]


@pytest.mark.parametrize("text", POSITIVE)
def test_positive(run, text):
    v = run(text, account="personal")
    assert "missing-disclaimer" in v.fired, text
    f = next(f for f in v.findings if f.rule == "missing-disclaimer")
    assert f.clause == "P2"
    assert f.fix_text and "my own" in f.fix_text and "Regional School District No. 14" in f.fix_text


@pytest.mark.parametrize("text", NEAR_MISS)
def test_near_miss(run, text):
    v = run(text, account="personal")
    assert "missing-disclaimer" not in v.fired, [(f.reason, f.excerpt) for f in v.findings]


def test_fix_makes_the_post_clean(run):
    text = "Nonnewaug Chargers kick off at 7 tonight, see you there!"
    f = next(f for f in run(text).findings if f.rule == "missing-disclaimer")
    assert "missing-disclaimer" not in run(f"{text} {f.fix_text}").fired


def test_sponsored_never_fires(run):
    assert "missing-disclaimer" not in run("Go Nonnewaug Chargers!", account="sponsored").fired


@pytest.mark.parametrize("text", [
    "Go Nonnewaug football! Kickoff 7 pm Friday",   # an announcement
    "Nonnewaug Chargers 3-1 tonight!",              # a result
    "Go Nonnewaug Chargers https://example.org/x",  # a link
])
def test_a_cheer_with_information_is_not_a_cheer(policy, text):
    from checker import Post, check

    policy.judgment, saved = None, policy.judgment  # the rule layer alone
    try:
        assert "missing-disclaimer" in check(Post(text=text, account="personal"), policy).fired, text
    finally:
        policy.judgment = saved
