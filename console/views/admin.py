"""Admin pages: the audit trail and verifying every hash chain."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import aiohttp_jinja2
from aiohttp import web

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
