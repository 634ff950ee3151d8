"""An incident's record for the district's lawyers (GET /incidents/{id}/record): the post as
stored, the clause, the staff member's choice and reason, who reviewed it and when, chain status;
every export audited. Names are fictional (the roster's)."""

from __future__ import annotations

import time
from typing import Any

import pytest
from console_helpers import login

from store import Event, Store

FINDING = {"rule": "student-privacy", "clause": "P5", "reason": "student name + grades term", "score": 0.93,
           "action": "warn", "span": [0, 20], "excerpt": "Tyler Quinlan failed", "category": "academic-standing",
           "what": "a student's academic standing"}
TEXT = "Tyler Quinlan failed the chemistry final again"  # a fictional student of the test roster
REASON = "the parent asked me to share this with the class group"


def post_anyway(st: Store) -> str:
    """One post: warned by the extension, then posted anyway with a reason; its incident id."""
    now = time.time()
    common = dict(source="extension", site="www.facebook.com", device="pc-9", employee="d.fictional",
                  account="personal", text=TEXT, findings=[FINDING], policy_digest="abc123")
    first = st.append(Event(action="warned", time=now - 120, **common))
    st.append(Event(action="overridden", time=now - 60, justification=REASON, **common))
    assert st.flush()
    iid = st.read(lambda c: c.scalar("SELECT incident FROM events WHERE uid = ?", (first,)))
    assert iid == first
    return str(iid)


def audit_of(st: Store, action: str) -> list[dict[str, Any]]:
    return st.read(lambda c: c.all("SELECT actor, event_uid, detail FROM audit WHERE action = ? ORDER BY id", (action,)))


async def test_record_of_a_reviewed_incident(make_client: Any, store: Store) -> None:
    iid = post_anyway(store)
    c = await make_client()
    assert (await login(c, "rita")).status == 303
    r = await c.get(f"/events/{iid}")  # the incident page links to its record
    assert r.status == 200 and f'href="/incidents/{iid}/record" id="record"' in await r.text()
    assert store.review(iid, "rita", "reviewed", "Spoke with the teacher; post taken down.")
    r = await c.get(f"/incidents/{iid}/record")
    assert r.status == 200 and r.content_type == "text/html"
    page = await r.text()
    assert "Tyler" not in page and "Quinlan" not in page  # only what the log keeps: redacted
    assert "[STUDENT] failed the chemistry final again" in page
    assert "posted anyway" in page and REASON in page
    assert "Clause P5" in page and "student-privacy" in page and "academic-standing" in page
    assert "Spoke with the teacher; post taken down." in page and ">rita<" in page and ">reviewed<" in page
    assert '<dd id="chain" class="ok">intact</dd>' in page
    assert page.count('<article class="event"') == 2 and "UTC" in page
    assert "d.fictional" in page and "pc-9" in page
    assert audit_of(store, "export:incident") == [{"actor": "rita", "event_uid": iid, "detail": "record (html)"}]
    r = await c.get(f"/incidents/{iid}/record?download=1")
    assert r.headers["Content-Disposition"] == f'attachment; filename="incident-{iid}.html"'
    assert audit_of(store, "export:incident")[-1]["detail"] == "record (html file)"


async def test_record_shows_a_broken_chain(make_client: Any, store: Store) -> None:
    iid = post_anyway(store)
    store.write(lambda c: c.execute("UPDATE events SET justification = 'changed later' WHERE incident = ? "
                                    "AND action = 'overridden'", (iid,)))
    c = await make_client()
    await login(c, "alice")
    page = await (await c.get(f"/incidents/{iid}/record")).text()
    assert '<dd id="chain" class="bad">edited: stored fields do not match the event&#39;s hash</dd>' in page
    assert "Not reviewed yet." in page


@pytest.mark.parametrize("path", ["/incidents/0123456789abcdef0123456789abcdef/record", "/incidents/nothex/record"])
async def test_unknown_incident(make_client: Any, store: Store, path: str) -> None:
    c = await make_client()
    await login(c, "rita")
    assert (await c.get(path)).status == 404
    assert audit_of(store, "export:incident") == []


async def test_record_needs_a_session(make_client: Any, store: Store) -> None:
    iid = post_anyway(store)
    c = await make_client()
    r = await c.get(f"/incidents/{iid}/record", allow_redirects=False)
    assert r.status == 303 and r.headers["Location"].startswith("/login?next=")
    assert audit_of(store, "export:incident") == []
