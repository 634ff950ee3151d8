"""conduct: positives, disguises, near misses (idioms, Scunthorpe, neutral identity words)."""

from __future__ import annotations

import pytest

POSITIVE = [
    ("You are a complete idiot", "insult"),
    ("Honestly that ref is a moron and you're a loser too", "insult"),
    ("I'm going to kill you after practice", "threat"),
    ("You'd better watch your back. I know where you live.", "threat"),
    ("What a piece of shit meeting", "harassment"),
    ("This is fucking ridiculous", "obscenity"),
    ("kys nobody likes you", "threat"),
    ("Immigrants are animals and should go back to their country", "group-hostility"),
    ("The principal is a thief who embezzled money from the boosters", "defamation"),
    ("that new kid is a retard", "group-hostility"),
    # A trailing "!" is punctuation, not a leet "i" ("live!" once read "livei" and missed).
    ("I know where you live!", "threat"),
    ("Shut your mouth!!", "harassment"),
    # violence against a group, and demeaning words right before one
    ("We should kill all the immigrants!", "threat"),
    ("Let's go beat up those Muslims", "threat"),
    ("Filthy Pakistanis everywhere downtown", "group-hostility"),
    ("Immigrants are cockroaches", "group-hostility"),
    ("Autistic people aren't fully human", "group-hostility"),
]
EVASIONS = [
    "this is f u c k i n g stupid",
    "what a sh!t show",
    "you b*tch",
    "sh1t happens but you are an 1d10t",
    "f\u200bu\u200bc\u200bk this",  # zero-width spaces
    "\u0455hit",  # Cyrillic dze for s
    "fuuuuuck",
    "a$$hole",
    "f.u.c.k off",
    "\u0430sshole",  # Cyrillic a
]
NEAR_MISS = [
    "We killed it tonight, great job team!",
    "That halftime show was the bomb",
    "Shoot, I forgot to send the permission slips",
    "Field trip to Scunthorpe next spring",
    "Mocktail and cocktail recipes for the staff party",
    "Reading Dickens in AP Lit this week",
    "The Gay-Straight Alliance meets Tuesday in room 104",
    "The Black Student Union is hosting a poetry night",
    "My sister is a lesbian and I'm proud of her",
    "Our Muslim students are celebrating Eid this week",
    "Happy Pride month to all our LGBTQ families",
    "The assassin in Hamlet is a fascinating character",
    "I am going to beat the traffic today",
    "The damn printer jammed again",
    "Pass the class assignments to the front",
    "Analysis of the assassination of Archduke Franz Ferdinand",
    "She is a disabled veteran who spoke at our assembly",
    "Therapists and shitake mushrooms",  # "shitake": not a word boundary hit
    "The women's relay team beat the men tonight!",  # the group patterns leave men and women out
    "We beat the Catholics 3-1 in the rivalry game",  # "beat the" is a game
    "You can sleep when you're dead! Big week ahead",  # an idiom, not a threat
    "Burning questions from immigrants at tonight's forum",
    "Kill the lights before you leave the gym!",
    "Refugees are not people we should fear",
    "Our students are not robots, and immigrants are not a problem to solve",
]


@pytest.mark.parametrize("text,category", POSITIVE)
def test_positive(run, text, category):
    v = run(text)
    assert "conduct" in v.fired
    f = [f for f in v.findings if f.rule == "conduct"]
    assert {x.category for x in f} & {category}, [(x.category, x.excerpt) for x in f]
    assert all(x.clause == "P9" for x in f)


@pytest.mark.parametrize("text", [
    "We should kill all the immigrants!", "Let's go beat up those Muslims", "kill the refugees",
    "Filthy Pakistanis everywhere downtown", "I know where you live!",
])
def test_the_phrase_patterns_catch_it_not_only_the_model(run, text):
    # These must not rest on the language model's judgement: a pattern names the exact words.
    f = [x for x in run(text).findings if x.rule == "conduct"]
    assert any("language model" not in x.reason for x in f), [(x.reason, x.excerpt) for x in f]


@pytest.mark.parametrize("text", EVASIONS)
def test_evasion(run, text):
    assert "conduct" in run(text).fired


@pytest.mark.parametrize("text", NEAR_MISS)
def test_near_miss(run, text):
    assert "conduct" not in run(text).fired, [(f.reason, f.excerpt) for f in run(text).findings]


def test_sponsored_cites_d4_and_span_points_at_original(run):
    text = "Great win. You're a f*cking id1ot ref."
    v = run(text, account="sponsored", target="https://www.facebook.com/NonnewaugAthletics")
    f = [f for f in v.findings if f.rule == "conduct"]
    assert f and all(x.clause == "D4" for x in f)
    for x in f:
        assert text[x.span[0]:x.span[1]] == x.excerpt
