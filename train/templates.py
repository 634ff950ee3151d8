"""Our own templated examples of political advocacy (seeded sample), written from general
knowledge of how campaigns and officeholders post; no evaluation text was used to make them."""

from __future__ import annotations

import random

from train.data import SEED, Example

ACTORS = [
    "The president", "Congress", "The Senate", "House Republicans", "Senate Democrats", "The administration",
    "Washington", "The governor", "The state legislature", "The majority leader", "Liberals in Congress",
    "Conservatives in the House", "My opponent", "The Speaker", "The mayor", "Career politicians",
]
ATTACKS = [
    "is failing on", "refuses to fix", "keeps ignoring", "is wasting billions on", "is playing politics with",
    "wants to cut", "voted to gut", "is blocking action on", "broke its promises on", "is making a mess of",
    "has no plan for", "keeps raising your costs for",
]
ISSUES = [
    "health care", "Social Security", "Medicare", "our veterans", "small businesses", "the middle class",
    "the economy", "jobs", "the national debt", "border security", "energy prices", "gun rights",
    "education funding", "tax reform", "the farm bill", "immigration reform", "student loans",
    "the minimum wage", "the Affordable Care Act", "the budget", "women's health", "our military",
    "coal jobs", "climate change", "the deficit", "working families", "seniors", "Wall Street reform",
]
SUPPORTS = [
    "I will keep fighting for", "Proud to vote for a bill that protects", "I introduced legislation to protect",
    "We must stand up for", "Join me in supporting", "I am calling on Congress to act on",
    "Sign my petition to save", "Tell your representative to defend", "Stand with us on",
    "Our campaign is about", "Vote in November for leaders who will deliver on", "It's time to get serious about",
]
ENDINGS = ["", " #tcot", " #p2", " #Obamacare", " #2A", " #GOP", " #Dems", " Retweet if you agree.", " Enough is enough.",
           " Sign up to help.", " We deserve better."]


def political_examples(n: int = 300) -> list[Example]:
    """`n` seeded advocacy sentences: half attacks, half calls to support."""
    rng = random.Random(f"{SEED}-political-templates")
    out: set[str] = set()
    while len(out) < n:
        if rng.random() < 0.5:
            s = f"{rng.choice(ACTORS)} {rng.choice(ATTACKS)} {rng.choice(ISSUES)}."
        else:
            s = f"{rng.choice(SUPPORTS)} {rng.choice(ISSUES)}."
        out.add(s + rng.choice(ENDINGS))
    return [Example(s, 1, "own") for s in sorted(out)]
