"""prohibited-purpose: on sponsored sites only; allowed district uses stay clean."""

from __future__ import annotations

import pytest

POSITIVE = [
    ("Vote yes on Question 2 this Tuesday!", "political-advocacy"),
    ("Please re-elect Jane Smith for First Selectman", "political-advocacy"),
    ("Sign the petition to recall the mayor", "political-advocacy"),
    ("Use promo code CHARGERS for 20% off at my Etsy shop", "advertising"),
    ("Check out my small business, DM me to order candles", "own-business"),
    ("Please donate to my GoFundMe for my trip", "own-business"),
    ("Accept Jesus into your heart today, he loves you", "religious"),
    ("Join us at church this Sunday for worship", "religious"),
    ("Please donate now, every dollar helps my campaign", "solicitation"),
    ("Follow my personal page for more of my photography", "solicitation"),
]
NEAR_MISS = [
    "Tickets for the spring musical are on sale now at the main office",
    "Schools are closed Tuesday; our buildings are polling places",
    "Student council elections are Friday, vote for your class president!",
    "Our AP Gov class held a mock election today",
    "The World Religions unit begins next week in 9th grade history",
    "Happy Holidays from all of us at Region 14!",
    "PTO report: the book fair raised $2,300 for the library",
    "The bake sale at the football game raised money for the senior class",
    "Canned food drive starts Monday, bring items to homeroom",
    "Merry Christmas and Happy Hanukkah to our school community",
    "Budget referendum information session Thursday at 7pm in the auditorium",
]


@pytest.mark.parametrize("text,category", POSITIVE)
def test_positive(run, text, category):
    v = run(text, account="sponsored")
    assert "prohibited-purpose" in v.fired, text
    assert category in {f.category for f in v.findings if f.rule == "prohibited-purpose"}


@pytest.mark.parametrize("text", NEAR_MISS)
def test_near_miss(run, text):
    v = run(text, account="sponsored")
    assert "prohibited-purpose" not in v.fired, [(f.category, f.excerpt) for f in v.findings]


@pytest.mark.parametrize("text,_", POSITIVE)
def test_personal_is_protected_speech(run, text, _):
    assert "prohibited-purpose" not in run(text, account="personal").fired
