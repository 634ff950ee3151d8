"""The console's pages: sign-in, event list, event page and review, dashboard, export, audit."""

from __future__ import annotations

import json
import re
import secrets
import time
from typing import Any
from urllib.parse import urlencode

import aiohttp_jinja2
from aiohttp import web

from console import auth, charts
from console.keys import CONFIG, LOGIN_CSRF_COOKIE, LOGIN_FAILS, POLICY, SESSION_COOKIE, STORE, USER
from console.threads import in_thread
from store import ACTIONS, REVIEW_STATUSES, Filters
from store.export import FORMATS, export_to_tempfile

UID_PATTERN = re.compile(r"^[0-9a-f]{32}$")


def rule_ids(policy: Any) -> list[str]:
    """The loaded policy's rule ids, a district's own rules included, in the policy's order."""
    return [rule.id for rule in policy.rules]


def _safe_next(nxt: str | None) -> str:
    # Only local paths: never an open redirect to another site.
    return nxt if nxt and nxt.startswith("/") and not nxt.startswith("//") and "\\" not in nxt else "/events"


# -- sign in / out ---------------------------------------------------------------------------
async def login_form(request: web.Request, error: str | None = None, status: int = 200) -> web.Response:
    """The sign-in form, with a double-submit CSRF token (there is no session yet)."""
    # Reuse the browser's token: a second load (another tab, a favicon fetch bounced here)
    # must not invalidate the form already on screen.
    token = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    if not re.fullmatch(r"[A-Za-z0-9_-]{32}", token):
        token = secrets.token_urlsafe(24)
    resp = aiohttp_jinja2.render_template("login.html", request, {
        "login_csrf": token, "next": _safe_next(request.query.get("next")), "error": error,
        }, status=status)
    resp.set_cookie(LOGIN_CSRF_COOKIE, token, httponly=True, samesite="Strict", path="/login",
                    secure=request.app[CONFIG].secure_cookies)
    return resp


async def login(request: web.Request) -> web.StreamResponse:
    """Check the password; start a session."""
    form = await request.post()
    if not auth.tokens_match(str(form.get("csrf") or ""), request.cookies.get(LOGIN_CSRF_COOKIE)):
        return await login_form(request, "The form expired; please try again.", 403)
    name, password = str(form.get("username") or "").strip(), str(form.get("password") or "")
    cfg, st = request.app[CONFIG], request.app[STORE]
    fails = request.app[LOGIN_FAILS]
    now = time.monotonic()
    count, since = fails.get(name, (0, now))
    if count >= cfg.max_login_failures and now - since < cfg.lockout_seconds:
        await in_thread(st.audit, name or "?", "login:locked")
        return await login_form(request, "Too many failed attempts; try again later.", 429)
    role = await in_thread(auth.check_password, st, name, password) if auth.valid_name(name) else None
    if role is None:
        fails[name] = (count + 1 if now - since < cfg.lockout_seconds else 1,
                       since if now - since < cfg.lockout_seconds else now)
        await in_thread(st.audit, name if auth.valid_name(name) else "?", "login:failed")
        return await login_form(request, "Wrong user name or password.", 401)
    fails.pop(name, None)
    token = await in_thread(auth.new_session, st, name, cfg.session_hours)
    await in_thread(st.audit, name, "login")
    resp = web.HTTPSeeOther(_safe_next(str(form.get("next") or "")))
    resp.set_cookie(SESSION_COOKIE, token, httponly=True, samesite="Strict", path="/",
                    secure=cfg.secure_cookies, max_age=int(cfg.session_hours * 3600))
    resp.del_cookie(LOGIN_CSRF_COOKIE, path="/login")
    raise resp


async def logout(request: web.Request) -> web.StreamResponse:
    """End the session."""
    st = request.app[STORE]
    await in_thread(auth.end_session, st, request.cookies.get(SESSION_COOKIE))
    await in_thread(st.audit, request[USER].name, "logout")
    resp = web.HTTPSeeOther("/login")
    resp.del_cookie(SESSION_COOKIE, path="/")
    raise resp


async def home(request: web.Request) -> web.StreamResponse:
    """The event list is the start page."""
    raise web.HTTPSeeOther("/events")


# -- the event list --------------------------------------------------------------------------
def _filters_from_query(request: web.Request) -> tuple[Filters, str | None]:
    f = Filters.from_mapping(request.query)
    try:
        f.validate()
    except ValueError as e:
        return Filters(), str(e)
    return f, None


def _audit_cursor(v: str | None) -> int | None:
    return int(v) if v and v.isdigit() and len(v) < 19 else None


@aiohttp_jinja2.template("events.html")
async def event_list(request: web.Request) -> dict[str, Any]:
    """Filtered, paginated events, newest first."""
    f, error = _filters_from_query(request)
    before, after = request.query.get("before") or None, request.query.get("after") or None
    st = request.app[STORE]
    rows, more = await in_thread(st.list_events, f, limit=request.app[CONFIG].page_size,
                                 before=before, after=after)
    qs = f.active()
    older = newer = None
    if rows:
        page = lambda **kw: "/events?" + urlencode({**qs, **kw})  # noqa: E731
        if after is not None:  # walking towards newer events
            older = page(before=rows[-1]["cursor"])
            newer = page(after=rows[0]["cursor"]) if more else None
        else:
            older = page(before=rows[-1]["cursor"]) if more else None
            newer = page(after=rows[0]["cursor"]) if before is not None else None
    for r in rows:
        r["rule_list"] = r["rules"].split() if r["rules"] else []
    policy = request.app[POLICY]
    return {"rows": rows, "f": f, "error": error, "older": older, "newer": newer,
            "qs": urlencode(qs), "rules": rule_ids(policy), "clauses": list(policy.data.clauses),
            "actions": ACTIONS, "statuses": REVIEW_STATUSES, "active": qs}


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


def quoted_clauses(policy: Any, findings: list[dict[str, Any]]) -> list[tuple[str, str]]:
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
    return {"ev": ev, "segments": segments(ev["content"], ev["findings"]) if ev["content"] else None,
            "clauses": quoted_clauses(request.app[POLICY], ev["findings"]),
            "statuses": REVIEW_STATUSES[1:], "saved": request.query.get("saved")}


async def review(request: web.Request) -> web.StreamResponse:
    """Mark reviewed / dismissed / escalated, with a note (logged with the reviewer's name)."""
    uid = request.match_info["uid"]
    form = await request.post()
    status, note = str(form.get("status") or ""), str(form.get("note") or "").strip()
    if not UID_PATTERN.match(uid) or status not in REVIEW_STATUSES[1:] or len(note) > 2000:
        raise web.HTTPBadRequest(text="choose reviewed, dismissed or escalated; notes up to 2000 characters")
    st = request.app[STORE]
    if not await in_thread(st.review, uid, request[USER].name, status, note):
        raise web.HTTPNotFound(text="no such event")
    raise web.HTTPSeeOther(f"/events/{uid}?saved={status}")


# -- dashboard -------------------------------------------------------------------------------
@aiohttp_jinja2.template("dashboard.html")
async def dashboard(request: web.Request) -> dict[str, Any]:
    """Charts: findings per day by rule, top rules, actions and the override rate."""
    days = request.query.get("days", "30")
    days_n = int(days) if days in ("7", "30", "90") else 30
    d = await in_thread(request.app[STORE].dashboard, days_n)
    colors = charts.rule_colors(rule_ids(request.app[POLICY]))
    return {"d": d, "days": days_n,
            "chart_days": charts.per_day_by_rule(d["days"], d["per_day"], colors),
            "chart_rules": charts.top_rules(d["top_rules"], colors),
            "chart_actions": charts.actions_bar(d["actions"]),
            "chart_override": charts.override_rate(d["days"], d["override_per_day"])}


# -- export ----------------------------------------------------------------------------------
async def export(request: web.Request) -> web.StreamResponse:
    """The filtered events as CSV or JSON (the export is recorded)."""
    fmt = request.match_info["fmt"]
    if fmt not in FORMATS:
        raise web.HTTPNotFound()
    f, error = _filters_from_query(request)
    if error:
        raise web.HTTPBadRequest(text=error)
    st = request.app[STORE]
    out, n = await in_thread(export_to_tempfile, st.db, f, fmt)
    await in_thread(st.audit, request[USER].name, "export", None,
                    json.dumps({"format": fmt, "n": n, **f.active()}))
    resp = web.StreamResponse(headers={
        "Content-Type": "text/csv; charset=utf-8" if fmt == "csv" else "application/json; charset=utf-8",
        "Content-Disposition": f'attachment; filename="postguard-events.{fmt}"'})
    await resp.prepare(request)
    try:
        while chunk := await in_thread(out.read, 1 << 16):
            await resp.write(chunk.encode("utf-8"))
    finally:
        out.close()
    await resp.write_eof()
    return resp


# -- admin: audit trail and chain verification ------------------------------------------------
def _require_admin(request: web.Request) -> None:
    if not request[USER].is_admin:
        raise web.HTTPForbidden(text="admins only")


@aiohttp_jinja2.template("audit.html")
async def audit(request: web.Request) -> dict[str, Any]:
    """Who did what in the console, newest first (admins)."""
    _require_admin(request)
    before = _audit_cursor(request.query.get("before"))
    actor = request.query.get("actor", "").strip()[:64]
    rows = await in_thread(request.app[STORE].audit_trail, actor, before, 101)
    more = len(rows) > 100
    rows = rows[:100]
    older = "/audit?" + urlencode({**({"actor": actor} if actor else {}), "before": rows[-1]["id"]}) if more else None
    return {"rows": rows, "actor": actor, "older": older}


@aiohttp_jinja2.template("verify.html")
async def verify(request: web.Request) -> dict[str, Any]:
    """Walk every hash chain now and show the result (admins)."""
    _require_admin(request)
    st = request.app[STORE]
    n, problems = await in_thread(st.verify)
    await in_thread(st.audit, request[USER].name, "verify", None, f"{n} events, {len(problems)} problems")
    return {"n": n, "problems": problems}
