"""The dashboard's charts and the CSV/JSON export of the filtered events."""

from __future__ import annotations

import json
from typing import Any

import aiohttp_jinja2
from aiohttp import web

from console import charts
from console.keys import STORE, USER, current_policy
from console.threads import in_thread
from console.views.events import filters_from_query, rule_ids
from store import query
from store.export import FORMATS, export_to_tempfile


@aiohttp_jinja2.template("dashboard.html")
async def dashboard(request: web.Request) -> dict[str, Any]:
    """Charts: findings per day (in the district's time zone) by rule, top rules, actions and
    the override rate."""
    days = request.query.get("days", "30")
    days_n = int(days) if days in ("7", "30", "90") else 30
    tz = getattr(current_policy(request.app).district, "time_zone", "UTC")  # days from midnight to midnight there
    d = await in_thread(request.app[STORE].read, lambda c: query.dashboard(c, days_n, time_zone=tz))
    colors = charts.rule_colors(rule_ids(current_policy(request.app)))
    return {"d": d, "days": days_n,
            "chart_days": charts.per_day_by_rule(d["days"], d["per_day"], colors),
            "chart_rules": charts.top_rules(d["top_rules"], colors),
            "chart_actions": charts.actions_bar(d["actions"]),
            "chart_override": charts.override_rate(d["days"], d["override_per_day"])}



async def export(request: web.Request) -> web.StreamResponse:
    """The filtered events as CSV or JSON (the export is recorded)."""
    fmt = request.match_info["fmt"]
    if fmt not in FORMATS:
        raise web.HTTPNotFound()
    f, error = filters_from_query(request)
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
