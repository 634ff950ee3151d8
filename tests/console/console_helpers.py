"""Shared test helpers for the console tests: seed events, users, signing in."""

from __future__ import annotations

import re
import time
from typing import Any

from store import Event, Store

PASSWORDS = {"alice": "alice-admin-pass-1", "rita": "rita-reviewer-pass"}
NOW = time.time()
DAY = 86400.0
# Oldest first, as they would have been written. Names come from the fictional roster.
SEED = [
    dict(action="logged", site="www.instagram.com", device="pc-3", employee="c.nurse", age=20,
         text="Field trip photos are up", findings=[]),
    dict(action="blocked", site="x.com", device="pc-2", employee="b.coach", age=3,
         text="That referee is an idiot", findings=[{"rule": "conduct", "clause": "P9", "reason": "insult",
                                                     "score": 0.81, "action": "block", "span": [19, 24]}]),
    dict(action="overridden", site="www.facebook.com", device="pc-1", employee="a.teacher", age=2,
         text="Proud of Region 14 today", justification="this is my own page and my own view",
         findings=[{"rule": "missing-disclaimer", "clause": "P2", "reason": "mentions the district",
                    "score": 0.7, "action": "warn"}]),
    dict(action="warned", site="www.facebook.com", device="pc-1", employee="a.teacher", age=1,
         text="Tyler Quinlan failed the chemistry final again",
         findings=[{"rule": "student-privacy", "clause": "P5", "reason": "student name + grades term",
                    "score": 0.93, "action": "warn", "span": [0, 20], "excerpt": "Tyler Quinlan failed",
                    "category": "academic-standing", "what": "a student's academic standing"}]),
]


def seed(st: Store, events: list[dict[str, Any]] = SEED) -> list[str]:
    """Append the seed events; return their uids, oldest first."""
    uids = []
    for e in events:
        e = dict(e)
        age = e.pop("age")
        uids.append(st.append(Event(source="extension", time=NOW - age * DAY, policy_digest="abc123", **e)))
    assert st.flush()
    return uids


def csrf_of(html: str) -> str:
    """The CSRF token in a page's forms."""
    m = re.search(r'name="csrf" value="([^"]+)"', html)
    assert m, "no CSRF field on the page"
    return m.group(1)


async def login(client: Any, name: str, password: str | None = None, next_: str = "") -> Any:
    """Sign in through the form; return the final response."""
    page = await client.get("/login" + (f"?next={next_}" if next_ else ""))
    token = csrf_of(await page.text())
    return await client.post("/login", data={"csrf": token, "username": name,
                                             "password": password or PASSWORDS[name],
                                             "next": next_ or "/events"}, allow_redirects=False)
