"""The staff member in the console: shown on the incident list, the event page and the incident
record, and the list filtered by it (any event of the incident naming them)."""

from __future__ import annotations

import html
from typing import Any

import pytest
from console_helpers import seed

from store import Store

# Every name here is fictional.
PROFILE = "j.doe.fictional@ctreg14.org"
ENROLLED = "r.fictional@ctreg14.org"


@pytest.fixture
def staffed(store: Store) -> list[str]:
    return seed(store, [
        dict(action="warned", site="www.reddit.com", device="pc-7", age=0.5, text="You are an idiot",
             staff=PROFILE, staff_source="browser-profile",
             findings=[{"rule": "conduct", "clause": "P9", "reason": "insult", "score": 0.8, "action": "warn"}]),
        dict(action="blocked", site="www.tiktok.com", device="pc-8", age=0.4, text="You are a moron",
             staff="mkeller", staff_source="os-user",
             findings=[{"rule": "conduct", "clause": "P9", "reason": "insult", "score": 0.8, "action": "block"}]),
        dict(action="logged", site="www.pinterest.com", device="pc-9", age=0.3, text="a post",
             staff=ENROLLED, staff_source="enrolment", findings=[]),
    ])


async def test_the_list_shows_and_filters_by_staff(reviewer: Any, staffed: list[str]) -> None:
    page = html.unescape(await (await reviewer.get("/events")).text())
    assert 'name="staff"' in page and "Staff member" in page
    assert PROFILE in page and "browser profile" in page and "OS account" in page and "assigned at enrolment" in page
    only = html.unescape(await (await reviewer.get(f"/events?staff={PROFILE}")).text())
    assert PROFILE in only and "www.reddit.com" in only
    assert "www.tiktok.com" not in only and "www.pinterest.com" not in only and "a.teacher" not in only
    none = html.unescape(await (await reviewer.get("/events?staff=nobody.fictional")).text())
    assert "www.reddit.com" not in none and "www.tiktok.com" not in none


async def test_the_event_page_and_the_record_name_the_staff_member(reviewer: Any, staffed: list[str]) -> None:
    page = html.unescape(await (await reviewer.get(f"/events/{staffed[1]}")).text())
    assert "mkeller" in page and "OS account" in page
    rec = html.unescape(await (await reviewer.get(f"/incidents/{staffed[0]}/record")).text())
    assert PROFILE in rec and "browser profile" in rec


def test_logs_list_filters_by_staff(store: Store, staffed: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    from postguard.cli import main

    assert store.flush()
    rc = main(["logs", "list", "--db", store.db, "--staff", "mkeller", "--json"])
    out = capsys.readouterr().out
    assert rc == 0 and "mkeller" in out and PROFILE not in out and "www.tiktok.com" in out
