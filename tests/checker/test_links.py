"""personal-link (D8) and district-link (P4), classified offline with tldextract."""

from __future__ import annotations

import pytest

from checker.links import find_urls, registered_domain

PERSONAL = [
    ("Recap on my blog: https://coachsmith.wordpress.com/2025/recap", []),
    ("Photos: instagram.com/coach.smith", []),
    ("", ["https://www.facebook.com/profile.php?id=100001234567890"]),
    ("Follow me at https://x.com/CoachSmith14", []),
    ("More at https://www.tiktok.com/@mrsjonesteaches", []),
    ("My portfolio https://linktr.ee/mrjones", []),
    ("See https://www.linkedin.com/in/jane-doe-12345", []),
]
NOT_PERSONAL = [
    ("Schedules at https://www.ctreg14.org/athletics", []),
    ("Like our page https://www.facebook.com/NonnewaugAthletics", []),
    ("Story from the paper: https://www.rep-am.com/local/2025/10/nonnewaug", []),
    ("Watch on https://www.youtube.com/watch?v=abc123", []),
    ("See the state site ct.gov for details", []),
]


@pytest.mark.parametrize("text,links", PERSONAL)
def test_personal_link_on_sponsored(run, text, links):
    v = run(text or "See attached", account="sponsored", links=tuple(links))
    assert "personal-link" in v.fired
    f = next(f for f in v.findings if f.rule == "personal-link")
    assert f.clause == "D8" and f.link


@pytest.mark.parametrize("text,links", NOT_PERSONAL)
def test_not_personal_on_sponsored(run, text, links):
    assert "personal-link" not in run(text, account="sponsored", links=tuple(links)).fired


DISTRICT = [
    "Schedules at https://www.ctreg14.org/athletics",
    "see ctreg14.org for the calendar",
    "Check NONNEWAUG.ORG/calendar",
    "Like the page https://www.facebook.com/NonnewaugAthletics",
    "https://m.facebook.com/NonnewaugAthletics/posts/123",
    "Our channel https://youtube.com/@Region14Schools",
]


@pytest.mark.parametrize("text", DISTRICT)
def test_district_link_on_personal(run, text):
    v = run(text, account="personal")
    assert "district-link" in v.fired, text
    assert next(f for f in v.findings if f.rule == "district-link").clause == "P4"


@pytest.mark.parametrize("text", [
    "Loved this article https://www.nytimes.com/2025/ed.html",
    "Woodbury Library book sale this weekend woodburylibrary.org",
    "e.g. use a.m. times",
    "Score was 3.5 to 2.1",
])
def test_no_district_link(run, text):
    assert "district-link" not in run(text, account="personal").fired


def test_url_finder_and_suffix_list_offline():
    assert registered_domain("www.ctreg14.org") == "ctreg14.org"
    assert registered_domain("foo.blogspot.co.uk") == "blogspot.co.uk"
    assert [u for _, u in find_urls("go to ctreg14.org/x, or e.g. 3.5")] == ["ctreg14.org/x"]


def test_attached_link_has_no_span(run):
    v = run("Tonight's recap", account="personal", links=("https://ctreg14.org/news",))
    f = next(f for f in v.findings if f.rule == "district-link")
    assert f.span is None and f.link == "https://ctreg14.org/news"
