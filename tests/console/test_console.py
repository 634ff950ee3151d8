"""The review console through aiohttp's test client: access control, list, event, review, export."""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import re
from types import SimpleNamespace
from typing import Any

import pytest
from console_helpers import NOW, PASSWORDS, SEED, csrf_of, login, seed

from store import Store


def uids_on(html: str) -> list[str]:
    return re.findall(r'<tr data-href="/events/([0-9a-f]{32})"', html)


def audit_rows(st: Store, action: str) -> list[dict[str, Any]]:
    return st.read(lambda c: c.all("SELECT actor, action, event_uid, detail FROM audit WHERE action = ? ORDER BY id",
                                   (action,)))


@pytest.mark.parametrize("method, path", [
    ("GET", "/events"), ("GET", "/dashboard"), ("GET", "/export.csv"), ("GET", "/audit"),
    ("GET", "/events/0123456789abcdef0123456789abcdef"),
])
async def test_pages_need_a_session(make_client: Any, method: str, path: str) -> None:
    c = await make_client()
    r = await c.request(method, path, allow_redirects=False)
    assert r.status == 303 and r.headers["Location"].startswith("/login?next=")


async def test_posts_need_a_session(make_client: Any, store: Store) -> None:
    c = await make_client()
    uid = store.list_events()[0][0]["uid"]
    r = await c.post(f"/events/{uid}/review", data={"status": "reviewed"}, allow_redirects=False)
    assert r.status == 403
    assert store.get_event(uid)["review_status"] == "open"


async def test_login_wrong_password_then_lockout(make_client: Any, store: Store) -> None:
    c = await make_client(max_login_failures=3)
    for _ in range(3):
        r = await login(c, "rita", "wrong password!!")
        assert r.status == 401
    r = await login(c, "rita")  # the right password, but locked out for now
    assert r.status == 429
    assert [a["actor"] for a in audit_rows(store, "login:failed")] == ["rita"] * 3
    other = await make_client()
    assert (await login(other, "alice")).status == 303  # other accounts unaffected


@pytest.mark.parametrize("name, password", [
    ("nobody", "whatever-password"),         # unknown user
    ("rita", PASSWORDS["alice"]),            # someone else's password
    ("rita", PASSWORDS["rita"].upper()),     # case matters
    ("rita'--", PASSWORDS["rita"]),          # injection-shaped name
])
async def test_login_refused(make_client: Any, name: str, password: str) -> None:
    c = await make_client()
    r = await login(c, name, password)
    assert r.status == 401 and "Wrong user name or password" in await r.text()
    assert (await c.get("/events", allow_redirects=False)).status == 303


async def test_login_needs_the_form_token(make_client: Any) -> None:
    c = await make_client()
    r = await c.post("/login", data={"csrf": "forged", "username": "rita", "password": PASSWORDS["rita"]},
                     allow_redirects=False)
    assert r.status == 403


@pytest.mark.parametrize("nxt, lands", [
    ("/dashboard", "/dashboard"),
    ("//evil.example/x", "/events"),
    ("https://evil.example/", "/events"),
    ("/\\evil.example", "/events"),
])
async def test_login_redirect_stays_local(make_client: Any, nxt: str, lands: str) -> None:
    c = await make_client()
    r = await login(c, "rita", next_=nxt)
    assert r.status == 303 and r.headers["Location"] == lands


async def test_logout_ends_the_session(reviewer: Any) -> None:
    page = await reviewer.get("/events")
    r = await reviewer.post("/logout", data={"csrf": csrf_of(await page.text())}, allow_redirects=False)
    assert r.status == 303
    assert (await reviewer.get("/events", allow_redirects=False)).status == 303


async def test_security_headers(reviewer: Any) -> None:
    r = await reviewer.get("/events")
    assert "script-src 'self'" in r.headers["Content-Security-Policy"]
    assert r.headers["X-Frame-Options"] == "DENY" and r.headers["X-Content-Type-Options"] == "nosniff"
    assert "cdn" not in (await r.text()).lower()


# One incident per seeded event (other devices and days); most urgent first, then newest: the
# student-privacy warning and the conduct block (urgent), the missing disclaimer (low), the clean post.
@pytest.mark.parametrize("query, want_sites", [
    ("", ["www.facebook.com", "x.com", "www.facebook.com", "www.instagram.com"]),
    ("sort=newest", ["www.facebook.com", "www.facebook.com", "x.com", "www.instagram.com"]),
    ("severity=urgent", ["www.facebook.com", "x.com"]),
    ("severity=low", ["www.facebook.com"]),
    ("findings=no", ["www.instagram.com"]),
    ("rule=conduct", ["x.com"]),
    ("clause=P5", ["www.facebook.com"]),
    ("site=www.facebook.com&action=overridden", ["www.facebook.com"]),
    ("employee=a.teacher", ["www.facebook.com", "www.facebook.com"]),
    ("device=pc-3", ["www.instagram.com"]),
    ("status=open&sort=newest", ["www.facebook.com", "www.facebook.com", "x.com", "www.instagram.com"]),
    ("status=escalated", []),
    ("rule=district-logo", []),
    ("site=facebook.com", []),  # near miss: exact host only
])
async def test_event_list_filters(reviewer: Any, store: Store, query: str, want_sites: list[str]) -> None:
    html = await (await reviewer.get(f"/events?{query}")).text()
    by_uid = {r["uid"]: r["site"] for r in store.list_events(limit=100)[0]}
    assert [by_uid[u] for u in uids_on(html)] == want_sites


async def test_event_list_date_filters(reviewer: Any) -> None:
    from datetime import datetime
    from zoneinfo import ZoneInfo

    # the day the 3-day-old post was made, in the district's time zone (the list's dates are its days)
    day = datetime.fromtimestamp(NOW - 3 * 86400, ZoneInfo("America/New_York")).date()
    html = await (await reviewer.get(f"/events?date_from={day}&date_to={day}")).text()
    assert len(uids_on(html)) == 1 and "x.com" in html
    html = await (await reviewer.get("/events?date_from=2026-02-31")).text()
    assert "expected YYYY-MM-DD" in html


async def test_pagination_walks_every_incident_once(make_client: Any, store: Store) -> None:
    seed(store, [dict(e, device=e["device"] + "-b") for e in SEED])  # 8 incidents now (others' devices)
    c = await make_client(page_size=3)
    assert (await login(c, "rita")).status == 303
    seen, url = [], "/events"
    while url:
        html = await (await c.get(url)).text()
        seen += uids_on(html)
        m = re.search(r'href="([^"]+)" rel="next"', html)
        url = m.group(1).replace("&amp;", "&") if m else None
    assert len(seen) == 8 and len(set(seen)) == 8
    back = re.search(r'href="([^"]+)" rel="prev"', html)
    assert back  # and one can walk back towards newer events
    html = await (await c.get(back.group(1).replace("&amp;", "&"))).text()
    assert uids_on(html) == seen[3:6]


async def test_event_page(reviewer: Any, store: Store, policy: Any) -> None:
    uid = store.list_events(limit=1)[0][0]["uid"]  # the student-privacy warning
    html = await (await reviewer.get(f"/events/{uid}")).text()
    assert '<mark title="student-privacy" class="r-student-privacy">[STUDENT] failed</mark>' in html
    assert "Tyler" not in html and "Quinlan" not in html
    assert policy.data.clauses["P5"][:60].replace("'", "&#39;") in html
    assert 'id="chain">intact' in html
    # the finding names its sub-category (docs/policy-taxonomy.md) as the checker phrased it
    assert "<strong>a student&#39;s academic standing</strong>" in html and "(academic-standing)" in html
    views = audit_rows(store, "view")
    assert views[-1]["actor"] == "rita" and views[-1]["event_uid"] == uid


async def test_event_page_shows_justification_and_tampering(reviewer: Any, store: Store) -> None:
    uid = store.list_events(limit=2)[0][1]["uid"]  # the override
    html = await (await reviewer.get(f"/events/{uid}")).text()
    assert "this is my own page and my own view" in html
    with store.reader().write() as c:
        c.execute("UPDATE events SET justification = 'something else' WHERE uid = ?", (uid,))
    html = await (await reviewer.get(f"/events/{uid}")).text()
    assert 'id="chain">edited' in html


@pytest.mark.parametrize("bad", ["nothex", "0123456789abcdef0123456789abcdeg", "../../etc/passwd"])
async def test_unknown_event(reviewer: Any, bad: str) -> None:
    assert (await reviewer.get(f"/events/{bad}")).status == 404


async def test_review_workflow(reviewer: Any, store: Store) -> None:
    uid = store.list_events(limit=1)[0][0]["uid"]
    page = await reviewer.get(f"/events/{uid}")
    token = csrf_of(await page.text())
    r = await reviewer.post(f"/events/{uid}/review", data={"status": "escalated", "note": "tell the principal"},
                            allow_redirects=False)
    assert r.status == 403  # no CSRF token
    r = await reviewer.post(f"/events/{uid}/review", data={"csrf": "x" * 43, "status": "reviewed"},
                            allow_redirects=False)
    assert r.status == 403  # a wrong one
    r = await reviewer.post(f"/events/{uid}/review", data={"csrf": token, "status": "approved"},
                            allow_redirects=False)
    assert r.status == 400  # not a review status
    r = await reviewer.post(f"/events/{uid}/review", data={"csrf": token, "status": "escalated",
                                                           "note": "tell the principal"}, allow_redirects=False)
    assert r.status == 303
    ev = store.get_event(uid)
    assert ev["review_status"] == "escalated"
    assert [(x["reviewer"], x["status"], x["note"]) for x in ev["reviews"]] == [("rita", "escalated", "tell the principal")]
    assert audit_rows(store, "review:escalated")[0]["actor"] == "rita"
    for q in ("status=escalated", "status=escalated&rule=student-privacy", "status=escalated&clause=P5",
              "status=escalated&rule=student-privacy&clause=P5"):
        html = await (await reviewer.get(f"/events?{q}")).text()
        assert uids_on(html) == [uid], q
    html = await (await reviewer.get("/events?status=open&rule=student-privacy")).text()
    assert uids_on(html) == []
    assert store.verify()[1] == []  # reviewing is not tampering


async def test_cross_origin_post_refused(reviewer: Any, store: Store) -> None:
    uid = store.list_events(limit=1)[0][0]["uid"]
    token = csrf_of(await (await reviewer.get(f"/events/{uid}")).text())
    r = await reviewer.post(f"/events/{uid}/review", data={"csrf": token, "status": "reviewed"},
                            headers={"Origin": "http://evil.example"}, allow_redirects=False)
    assert r.status == 403


async def test_dashboard(reviewer: Any) -> None:
    html = await (await reviewer.get("/dashboard")).text()
    assert html.count("<svg class=\"chart\"") == 4
    assert 'id="stat-total">4<' in html
    assert 'id="stat-override">50%<' in html  # 1 overridden of 2 warnings shown
    for rule in ("conduct", "student-privacy", "missing-disclaimer"):
        assert f"{rule}: 1</title>" in html
    html7 = await (await reviewer.get("/dashboard?days=7")).text()
    assert 'id="stat-total">3<' in html7  # the 20-day-old event is outside the week


async def test_a_district_rule_is_in_the_filter_and_charts(make_client: Any, store: Store, policy: Any) -> None:
    # The rule ids come from the loaded policy: a district's own rule is listed like the built-in ones.
    district = dataclasses.replace(policy, rules=[*policy.rules, SimpleNamespace(id="district-hours")])
    seed(store, [dict(action="warned", site="x.com", device="pc-4", employee="d.clerk", age=1, text="posted at 2am",
                      findings=[{"rule": "district-hours", "clause": "P9", "reason": "after hours", "score": 1.0}])])
    c = await make_client(policy=district)
    assert (await login(c, "rita")).status == 303
    html = await (await c.get("/events?rule=district-hours")).text()
    rule_filter = html[html.index('<select name="rule">'):]
    options = re.findall(r"<option\s*(?:selected)?>([^<]+)</option>", rule_filter[:rule_filter.index("</select>")])
    assert options == [r.id for r in policy.rules] + ["district-hours"]
    assert "<option selected>district-hours</option>" in html and len(uids_on(html)) == 1
    html = await (await c.get("/dashboard")).text()
    fill = re.search(r'fill="(#[0-9a-f]{6})"><title>[^<]*district-hours: 1</title>', html)
    assert fill and fill.group(1) != "#6b7280"  # a colour of its own, not the grey of unknown rules


@pytest.mark.parametrize("fmt", ["csv", "json"])
async def test_export(reviewer: Any, store: Store, fmt: str) -> None:
    r = await reviewer.get(f"/export.{fmt}?site=www.facebook.com")
    assert r.status == 200 and "attachment" in r.headers["Content-Disposition"]
    body = await r.text()
    rows = list(csv.DictReader(io.StringIO(body))) if fmt == "csv" else json.loads(body)
    assert [x["action"] for x in rows] == ["overridden", "warned"]
    assert "Tyler" not in body
    (a,) = audit_rows(store, "export")
    assert a["actor"] == "rita" and json.loads(a["detail"]) == {"format": fmt, "n": 2, "site": "www.facebook.com"}


async def test_admin_only_pages(reviewer: Any, admin: Any, store: Store) -> None:
    assert (await reviewer.get("/audit")).status == 403
    html = await (await admin.get("/audit")).text()
    assert "login" in html and "rita" in html
    token = csrf_of(html)
    html = await (await admin.post("/verify", data={"csrf": token})).text()
    assert "All 4 events verified" in html
    with store.reader().write() as c:
        eid = c.scalar("SELECT MAX(id) FROM events WHERE device = 'pc-1'")
        c.execute("DELETE FROM events WHERE id = ?", (eid,))
    html = await (await admin.post("/verify", data={"csrf": token})).text()
    assert "Tampering detected" in html and "deleted" in html


async def test_database_down_is_a_clear_503(aiohttp_client: Any, policy: Any, tmp_path: Any) -> None:
    import socket

    from console import ConsoleConfig, create_app

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"postgresql://postgres:hunter2@127.0.0.1:{port}/x?connect_timeout=1"
    c = await aiohttp_client(create_app(ConsoleConfig(db=url, policy=policy)))
    r = await login(c, "rita")  # the form needs no database; checking the password does
    body = await r.text()
    assert r.status == 503 and "unavailable" in body and "hunter2" not in body
