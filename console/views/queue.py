"""The review queue's forms: bulk review and assignment of incidents, an incident's assignee; and
the start-up work that gives the log the policy's severities and the pages the district's time."""

from __future__ import annotations

import asyncio
import logging
import time
from functools import partial
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

import aiohttp_jinja2
from aiohttp import web

from console.keys import STORE, USER, current_policy
from console.threads import in_thread
from console.timefmt import local_html, local_text
from store import REVIEW_STATUSES, queue
from store import incidents as store_incidents

if TYPE_CHECKING:
    from checker import Policy

log = logging.getLogger("postguard.console")
CONFIGURED = web.AppKey("incidents_configured", dict)  # {"digest": of the policy configured for}
STATS = web.AppKey("queue_stats", dict)  # when the planner's statistics were last looked at, and the task
STATS_EVERY_SECONDS = 600.0
# How an incident's outcome (store.incidents.OUTCOME_ORDER) reads on the pages.
OUTCOME_NAMES = {"overridden": "posted anyway", "edited": "edited", "blocked": "blocked", "cancelled": "cancelled",
                 "logged": "logged", "warned": "warned, no choice yet", "error": "error", "passed": "passed"}


async def on_startup(app: web.Application) -> None:
    """Times in the district's zone on every page; the policy's severities in the log."""
    env = aiohttp_jinja2.get_env(app)
    env.globals["outcome_names"] = OUTCOME_NAMES
    _zone(app, current_policy(app))
    app[CONFIGURED] = {"digest": ""}
    app[STATS] = {"at": time.monotonic(), "task": None}  # configure looks at them on start
    try:
        await ensure_configured(app)
    except ConnectionError as e:  # the database is down: pages say so; configured on first use
        log.warning("review queue not configured yet (%s)", e)


def _zone(app: web.Application, policy: Policy) -> None:
    tz = ZoneInfo(getattr(policy.district, "time_zone", "UTC"))
    env = aiohttp_jinja2.get_env(app)
    env.filters["local"] = partial(local_html, tz=tz)
    env.filters["local_text"] = partial(local_text, tz=tz)
    env.globals["time_zone"] = str(tz)


async def ensure_configured(app: web.Application) -> None:
    """Give the log the policy's join gap, severities and site aliases, and the pages its time
    zone: once per policy in force (the district server's console follows a newly published
    bundle; the incidents are ranked again when they changed). ConnectionError when the log is down."""
    policy = current_policy(app)
    if app[CONFIGURED]["digest"] == policy.digest:
        _stats_now_and_then(app)
        return
    from checker.categories import severity_table

    gap = policy.settings.override_window_seconds
    levels = severity_table(policy)
    aliases = dict(policy.data.social.get("aliases", {}))
    await in_thread(app[STORE].write, lambda c: store_incidents.configure(c, gap, levels, aliases))
    _zone(app, policy)
    app[CONFIGURED]["digest"] = policy.digest


def _stats_now_and_then(app: web.Application) -> None:
    """Every 10 minutes at most, in the background: ANALYZE the queue's tables on PostgreSQL when
    their statistics went stale (store.incidents.refresh_stats; autovacuum normally does it)."""
    state = app[STATS]
    if time.monotonic() - state["at"] < STATS_EVERY_SECONDS or (state["task"] and not state["task"].done()):
        return
    state["at"] = time.monotonic()

    async def refresh() -> None:
        try:
            done = await in_thread(app[STORE].read, store_incidents.refresh_stats)
            if done:
                log.info("review queue: statistics refreshed (%s)", ", ".join(done))
        except Exception as e:  # the next look tries again
            log.warning("review queue: statistics not refreshed (%s)", type(e).__name__)

    state["task"] = asyncio.get_running_loop().create_task(refresh())


def _back(form: Any) -> str:
    """Where the bulk form came from: the list with its filters (never another site)."""
    back = str(form.get("back") or "")
    return back if back.startswith("/events?") or back == "/events" else "/events"


async def bulk(request: web.Request) -> web.StreamResponse:
    """Review (reviewed / dismissed / escalated, one note) or assign the chosen incidents."""
    form = await request.post()
    ids = [str(v) for v in form.getall("incident", [])]
    op, note = str(form.get("op") or ""), str(form.get("note") or "").strip()
    st, user = request.app[STORE], request[USER]
    try:
        if op == "review":
            status = str(form.get("status") or "")
            if status not in REVIEW_STATUSES[1:] or len(note) > 2000:
                raise ValueError("choose reviewed, dismissed or escalated; notes up to 2000 characters")
            n = await in_thread(st.write, lambda c: queue.review_incidents(c, ids, user.name, status, note))
            done = f"{n} marked {status}"
        elif op == "assign":
            who = str(form.get("assignee") or "")
            n = await in_thread(st.write, lambda c: queue.assign_incidents(c, ids, who, user.name))
            done = f"{n} assigned to {who or 'nobody'}"
        else:
            raise ValueError("choose an action: review or assign")
    except ValueError as e:
        raise web.HTTPBadRequest(text=str(e)) from None
    back = _back(form)
    raise web.HTTPSeeOther(back + ("&" if "?" in back else "?") + urlencode({"done": done}))


async def assign(request: web.Request) -> web.StreamResponse:
    """Assign the incident of this event to a reviewer (or to nobody)."""
    uid = request.match_info["uid"]
    form = await request.post()
    st, user = request.app[STORE], request[USER]
    iid = await in_thread(st.read, lambda c: queue.incident_of(c, uid))
    if iid is None:
        raise web.HTTPNotFound(text="no such event")
    who = str(form.get("assignee") or "")
    try:
        await in_thread(st.write, lambda c: queue.assign_incidents(c, [iid], who, user.name))
    except ValueError as e:
        raise web.HTTPBadRequest(text=str(e)) from None
    raise web.HTTPSeeOther(f"/events/{uid}?saved=assigned")
