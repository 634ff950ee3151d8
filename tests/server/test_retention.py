"""Retention on the server, by the server's receive time (a device's clock cannot age events out)."""

from __future__ import annotations

import time
from typing import Any

from server_helpers import chain, cli, old_iso

from server.app import _retention


async def test_retention_runs_by_server_time(device: Any, server: Any, capsys: Any) -> None:
    days = server.cfg.policy.settings.retention_days
    assert days > 0
    d = await device()
    # The device's clock says these happened long ago; the server received them now: they stay.
    far_back = time.time() - (days + 30) * 86400
    rows = chain(d.device, 6, when=far_back)
    await d.send_events(rows)
    await _retention(server.app)
    assert len(server.query("SELECT id FROM events WHERE device = ?", (d.device,))) == 6
    # Received (by the server's clock) past the retention period: the oldest three go.
    c = server.conn()
    try:
        c.execute("UPDATE events SET received_at = ? WHERE device = ? AND seq <= 3", (old_iso(days + 1), d.device))
    finally:
        c.close()
    await _retention(server.app)
    left = server.query("SELECT seq FROM events WHERE device = ? ORDER BY seq", (d.device,))
    assert [r["seq"] for r in left] == [4, 5, 6]
    assert server.query("SELECT seq FROM chain_anchors WHERE device = ?", (d.device,)) == [{"seq": 3}]
    rc, out, _ = cli(capsys, "logs", "verify", "--db", server.cfg.db)
    assert rc == 0, out
    # The agent still holding purged rows (an answer it never got) is acknowledged, not refused.
    again = await d.send_events(rows[:4])
    assert again.body["duplicates"] == 4 and again.body["committed_through"] == 4 and not again.body["problems"]
    more = await d.send_events(chain(d.device, 1, start=7, prev=rows[-1]["hash"]))
    assert more.body["stored"] == 1


async def test_logs_purge_on_the_server_also_goes_by_server_time(device: Any, server: Any, capsys: Any) -> None:
    d = await device()
    await d.send_events(chain(d.device, 3, when=time.time() - 400 * 86400))  # a device clock far behind
    rc, out, _ = cli(capsys, "logs", "purge", "--days", "30", "--db", server.cfg.db, "--json")
    assert rc == 0 and '"purged": 0' in out
    assert len(server.query("SELECT id FROM events WHERE device = ?", (d.device,))) == 3
