"""Admin pages: the audit trail, verifying every hash chain, and console accounts."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import aiohttp_jinja2
from aiohttp import web

from console import auth
from console.keys import STORE, USER
from console.threads import in_thread


def _audit_cursor(v: str | None) -> int | None:
    return int(v) if v and v.isdigit() and len(v) < 19 else None


def require_admin(request: web.Request) -> None:
    """403 unless the signed-in user is an admin."""
    if not request[USER].is_admin:
        raise web.HTTPForbidden(text="admins only")


@aiohttp_jinja2.template("audit.html")
async def audit(request: web.Request) -> dict[str, Any]:
    """Who did what in the console, newest first (admins)."""
    require_admin(request)
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
    require_admin(request)
    st = request.app[STORE]
    n, problems = await in_thread(st.verify)
    await in_thread(st.audit, request[USER].name, "verify", None, f"{n} events, {len(problems)} problems")
    return {"n": n, "problems": problems}


@aiohttp_jinja2.template("users.html")
async def users(request: web.Request) -> dict[str, Any]:
    """Console accounts: disable, enable or remove one (admins)."""
    require_admin(request)
    return {"users": await in_thread(auth.list_users, request.app[STORE]), "me": request[USER].name}


async def user_action(request: web.Request) -> web.StreamResponse:
    """POST /users/{name}/{disable|enable|remove} (admins; never one's own account)."""
    require_admin(request)
    name, action = request.match_info["name"], request.match_info["action"]
    if action not in ("disable", "enable", "remove"):
        raise web.HTTPNotFound()
    actor = request[USER].name
    if name == actor:
        raise web.HTTPBadRequest(text="you cannot disable or remove your own account")
    st = request.app[STORE]
    if action == "remove":
        ok = await in_thread(auth.remove_user, st, name, actor)
    else:
        ok = await in_thread(auth.set_user_disabled, st, name, action == "disable", actor)
    if not ok:
        raise web.HTTPNotFound(text="no such user")
    raise web.HTTPSeeOther("/users")
