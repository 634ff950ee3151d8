"""Who uses each enrolled device, as its events on the server say (the staff fields, migration 10):

- **assigned**: the staff member the computer was enrolled for (`agent enroll --user`), named with
  source `enrolment` by the agent's own events from its start on, and by posts that name no one better;
- **signed in**: the staff member most recently named by the browser profile's account
  (`browser-profile`) or by the OS account of a proxied connection (`os-user`).

Each with when it was last named (the event's time). Looked up among the device's newest WINDOW
events (by event time, one index range: `ix_events_device_ts`), so a page of devices costs the same
however long each has been logging; a name not seen in them is shown as unknown.
For the console's Devices page and `postguard devices list|show`.
"""

from __future__ import annotations

from typing import Any

from store.db import Conn

WINDOW = 2000
ASSIGNED = ("enrolment",)
SIGNED_IN = ("browser-profile", "os-user")


def _newest(conn: Conn, device: str, sources: tuple[str, ...]) -> dict[str, Any] | None:
    marks = ", ".join("?" * len(sources))
    row = conn.one(
        f"SELECT staff, staff_source, ts FROM (SELECT staff, staff_source, ts, id FROM events WHERE device = ? "
        f"ORDER BY ts DESC, id DESC LIMIT {WINDOW}) recent "
        f"WHERE staff_source IN ({marks}) AND staff IS NOT NULL ORDER BY ts DESC, id DESC LIMIT 1",
        (device, *sources))
    return None if row is None else {"staff": row["staff"], "staff_source": row["staff_source"], "ts": row["ts"]}


def staff_of(conn: Conn, device: str) -> dict[str, dict[str, Any] | None]:
    """`{"assigned": …, "signed_in": …}` for one device, each `{"staff", "staff_source", "ts"}` or None."""
    return {"assigned": _newest(conn, device, ASSIGNED), "signed_in": _newest(conn, device, SIGNED_IN)}


def add_staff(conn: Conn, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each device row (with its `id`) with `assigned` and `signed_in` added."""
    for r in rows:
        r.update(staff_of(conn, r["id"]))
    return rows
