"""An incident's record for the district's lawyers: a print-ready HTML page (print or save as PDF
from the browser) with the post as stored, the findings and the Board policy clauses they cite, the
staff member's choice and reason, every review (who, when, what, note), and the chain status and
hash of each event. Every export is recorded in the audit trail before it is shown."""

from __future__ import annotations

import re
from typing import Any

import aiohttp_jinja2
from aiohttp import web

from console.keys import STORE, USER, current_policy
from console.threads import in_thread
from console.views.events import quoted_clauses
from console.views.queue import ensure_configured
from store import queue
from store.db import Conn
from store.event import iso
from store.query import get_event

INCIDENT_ID = re.compile(r"^[0-9a-f]{32}$")
def setup(app: web.Application) -> None:
    """GET /incidents/{id}/record: the record of one incident (any signed-in reviewer or admin)."""
    app.router.add_get("/incidents/{iid}/record", record)


def incident_record(conn: Conn, iid: str) -> dict[str, Any] | None:
    """The incident with its timeline and reviews, and each of its events in full (findings, content
    as stored, chain status); None when there is no such incident."""
    inc = queue.get_incident(conn, iid)
    if inc is None:
        return None
    events = [e for e in (get_event(conn, t["uid"]) for t in inc["timeline"]) if e is not None]
    broken = [e["chain"] for e in events if e["chain"] != "intact"]
    return {"inc": inc, "events": events, "chain": broken[0] if broken else "intact",
            "findings": [f for e in events for f in e["findings"]]}


async def record(request: web.Request) -> web.StreamResponse:
    """The record, audited as `export:incident` (with ?download=1 as a file to keep)."""
    iid = request.match_info["iid"]
    if not INCIDENT_ID.match(iid):
        raise web.HTTPNotFound(text="no such incident")
    st, user = request.app[STORE], request[USER]
    await ensure_configured(request.app)
    rec = await in_thread(st.read, lambda c: incident_record(c, iid))
    if rec is None:
        raise web.HTTPNotFound(text="no such incident")
    download = request.query.get("download") == "1"
    await in_thread(st.audit, user.name, "export:incident", iid, "record (html file)" if download else "record (html)")
    policy = current_policy(request.app)
    resp = aiohttp_jinja2.render_template("record.html", request, {
        **rec, "clauses": quoted_clauses(policy, rec["findings"]),
        "district": policy.data.district.name, "exported_at": iso(None), "exported_by": user.name})
    if download:
        resp.headers["Content-Disposition"] = f'attachment; filename="incident-{iid}.html"'
    return resp
