"""student-privacy: identifiable student + confidential matter; aggregates and announcements pass.

Every student name here comes from the FICTIONAL roster policies/region14/students.csv.
"""

from __future__ import annotations

import pytest

POSITIVE = [
    "Tyler Quinlan failed his chemistry final again",
    "QUINLAN, TYLER got suspended for vaping in the bathroom",
    "tyler   quinlan's IEP meeting got moved to Friday",
    "Hope Delacroix was diagnosed with ADHD last year",
    "Liv Marchetti's parents are going through a nasty divorce",
    "Student S100003 scored a 42 on the SAT practice test",
    "The boy in my 5th period got detention again today",
    "One of my students is pregnant and nobody knows yet",
    "Olivia Marchetti lives at 14 Maple Hill Road if anyone wants to drop off her books",
    "Hope Delacroix. She is on a 504 plan for anxiety.",
    "Tyler Q. got an F on the midterm",
    "T\u0443ler Quinlan was sent to the office and suspended",  # Cyrillic y
]
NEAR_MISS = [
    "Our 98% graduation rate is the highest in the county!",
    "Report cards go home Friday.",
    "504 information night for parents is Tuesday at 6pm",
    "Congratulations to Hope Delacroix, our Student of the Month!",
    "My son failed his driving test, again. Teenagers!",
    "Tyler Quinlan scored the winning goal tonight!",  # praise, directory information
    "Reminder: the school nurse can store medication for field trips",
    "Detention policies are being reviewed by the board",
    "IEP meetings this week are in the main office conference room",
    "Our students scored above the state average on the SBAC",
]


@pytest.mark.parametrize("text", POSITIVE)
def test_positive(run, text):
    v = run(text)
    assert "student-privacy" in v.fired, text
    f = next(f for f in v.findings if f.rule == "student-privacy")
    assert f.clause == "P5" and f.span and f.reason


@pytest.mark.parametrize("text", NEAR_MISS)
def test_near_miss(run, text):
    v = run(text)
    assert "student-privacy" not in v.fired, [(f.reason, f.excerpt) for f in v.findings]


def test_sponsored_cites_d7(run):
    v = run("Tyler Quinlan failed algebra", account="sponsored")
    assert [f.clause for f in v.findings if f.rule == "student-privacy"] == ["D7"]


def test_verdict_never_repr_roster(policy):
    assert "Quinlan" not in repr(policy.data.roster)
    assert "Quinlan" not in repr(policy.data.roster.students[:3])
