"""The incident list (the review queue: filtered, sorted by severity or time, paginated) and one
event: highlighted spans, quoted clauses, the timeline of its incident, review and assignment."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

import aiohttp_jinja2
from aiohttp import web

from console.keys import CONFIG, STORE, USER, current_policy
from console.threads import in_thread
from console.views.queue import ensure_configured
from store import ACTIONS, REVIEW_STATUSES, Filters, queue
from store.incidents import LEVELS

if TYPE_CHECKING:
    from checker import Policy

UID_PATTERN = re.compile(r"^[0-9a-f]{32}$")


def rule_ids(policy: Policy) -> list[str]:
    """The loaded policy's rule ids, a district's own rules included, in the policy's order."""
    return [rule.id for rule in policy.rules]


async def home(request: web.Request) -> web.StreamResponse:
    """The event list is the start page."""
    raise web.HTTPSeeOther("/events")


def filters_from_query(request: web.Request) -> tuple[Filters, str | None]:
    """The filters in the query string, or no filters and what was wrong with them."""
    f = Filters.from_mapping(request.query)
    try:
        f.validate()
    except ValueError as e:
        return Filters(), str(e)
    return f, None


def _page_links(qs: dict[str, str], rows: list[dict[str, Any]], more: bool, before: str | None,
                after: str | None) -> tuple[str | None, str | None]:
    """The (older, newer) page links around `rows`, keeping the filters in `qs`."""
    if not rows:
        return None, None

    def page(**cursor: str) -> str:
        return "/events?" + urlencode({**qs, **cursor})

    if after is not None:  # walking towards newer incidents
        return page(before=rows[-1]["cursor"]), (page(after=rows[0]["cursor"]) if more else None)
    return (page(before=rows[-1]["cursor"]) if more else None,
            page(after=rows[0]["cursor"]) if before is not None else None)


@aiohttp_jinja2.template("events.html")
async def event_list(request: web.Request) -> dict[str, Any]:
    """Incidents, most urgent and newest first (or newest first), filtered and paginated."""
    f = queue.QueueFilters.from_mapping(request.query)
    error = None
    try:
        f.validate()
    except ValueError as e:
        f, error = queue.QueueFilters(), str(e)
    before, after = request.query.get("before") or None, request.query.get("after") or None
    await ensure_configured(request.app)
    st = request.app[STORE]
    size = request.app[CONFIG].page_size
    tz = getattr(current_policy(request.app).district, "time_zone", "UTC")
    rows, more = await in_thread(st.read, lambda c: queue.list_incidents(c, f, limit=size, before=before, after=after,
                                                                         time_zone=tz))
    users = await in_thread(st.read, queue.reviewers)
    qs = f.active()
    older, newer = _page_links(qs, rows, more, before, after)
    for r in rows:
        r["rule_list"] = r["rules"].split() if r["rules"] else []
    policy = current_policy(request.app)
    here = "/events" + (f"?{urlencode(qs)}" if qs else "")
    return {"rows": rows, "f": f, "error": error, "older": older, "newer": newer, "here": here,
            "qs": urlencode(qs), "rules": rule_ids(policy), "clauses": list(policy.data.clauses),
            "actions": ACTIONS, "statuses": REVIEW_STATUSES, "severities": list(reversed(LEVELS)),
            "reviewers": users, "active": qs, "done": request.query.get("done")}


# -- one event -------------------------------------------------------------------------------
def segments(text: str, findings: list[dict[str, Any]]) -> list[tuple[str, list[str]]]:
    """The text cut into pieces, each with the rules whose spans cover it (empty = plain)."""
    cuts = {0, len(text)}
    spans = []
    for f in findings:
        sp = f.get("span")
        if sp and 0 <= int(sp[0]) < int(sp[1]) <= len(text):
            spans.append((int(sp[0]), int(sp[1]), str(f.get("rule"))))
            cuts |= {int(sp[0]), int(sp[1])}
    points = sorted(cuts)
    out: list[tuple[str, list[str]]] = []
    for a, b in zip(points, points[1:], strict=False):
        rules = sorted({r for s, e, r in spans if s <= a and b <= e})
        if out and out[-1][1] == rules:
            out[-1] = (out[-1][0] + text[a:b], rules)
        else:
            out.append((text[a:b], rules))
    return out


def quoted_clauses(policy: Policy, findings: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """The Board policy text for each clause the findings cite, in order, once each."""
    seen: dict[str, str] = {}
    for f in findings:
        for cid in re.split(r"[,\s]+", str(f.get("clause") or "")):
            if cid and cid not in seen:
                seen[cid] = policy.data.clauses.get(cid, "(clause text not in this policy)")
    return list(seen.items())


@aiohttp_jinja2.template("event.html")
async def event_page(request: web.Request) -> dict[str, Any]:
    """An event with highlighted spans, quoted clauses, chain status and the review form."""
    uid = request.match_info["uid"]
    if not UID_PATTERN.match(uid):
        raise web.HTTPNotFound(text="no such event")
    st, user = request.app[STORE], request[USER]
    await in_thread(st.audit, user.name, "view", uid)  # who saw what (recorded before it is shown)
    ev = await in_thread(st.get_event, uid)
    if ev is None:
        raise web.HTTPNotFound(text="no such event")
    await ensure_configured(request.app)
    inc = await in_thread(st.read, lambda c: queue.get_incident(c, ev["incident"] or uid))
    users = await in_thread(st.read, queue.reviewers)
    return {"ev": ev, "inc": inc, "segments": segments(ev["content"], ev["findings"]) if ev["content"] else None,
            "clauses": quoted_clauses(current_policy(request.app), ev["findings"]), "reviewers": users,
            "statuses": REVIEW_STATUSES[1:], "saved": request.query.get("saved")}


async def review(request: web.Request) -> web.StreamResponse:
    """Mark the event's incident reviewed / dismissed / escalated, with a note (logged with the
    reviewer's name)."""
    uid = request.match_info["uid"]
    form = await request.post()
    status, note = str(form.get("status") or ""), str(form.get("note") or "").strip()
    if not UID_PATTERN.match(uid) or status not in REVIEW_STATUSES[1:] or len(note) > 2000:
        raise web.HTTPBadRequest(text="choose reviewed, dismissed or escalated; notes up to 2000 characters")
    st = request.app[STORE]
    if not await in_thread(st.review, uid, request[USER].name, status, note):
        raise web.HTTPNotFound(text="no such event")
    raise web.HTTPSeeOther(f"/events/{uid}?saved={status}")
