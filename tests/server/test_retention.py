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


async def test_the_server_follows_a_published_policy_for_retention_alerts_and_the_console(
        device: Any, server: Any, tmp_path: Any) -> None:
    """A bundle published with 30 days of retention and another time zone: once the server has
    taken it (no restart), retention purges by 30 days (its --policy says 365), and the console's
    times and the alert e-mails use the new zone."""
    import re
    import shutil

    import aiohttp_jinja2

    from checker import DEFAULT_POLICY_DIR
    from console.views.queue import ensure_configured
    from server.alerts_send import ALERTER
    from server.checkpoint import load_key
    from server.keys import LIGHT, SERVED
    from server.policy_bundle import publish

    assert server.cfg.policy.settings.retention_days == 365
    folder = tmp_path / "region14"
    shutil.copytree(DEFAULT_POLICY_DIR, folder)
    rules = folder / "rules.toml"
    rules.write_text(re.sub(r"(?m)^retention_days = 365", "retention_days = 30", rules.read_text()))
    district = folder / "district.toml"
    district.write_text(district.read_text().replace('time_zone = "America/New_York"', 'time_zone = "Asia/Kolkata"'))
    c = server.conn()
    try:
        bundle = publish(c, folder, load_key(server.cfg.signing_key), "test")
    finally:
        c.close()
    await server.app[SERVED].refresh(server.app[LIGHT])
    assert server.app[SERVED].policy.digest == bundle.policy_digest

    d = await device()
    await d.send_events(chain(d.device, 2))
    c = server.conn()
    try:
        c.execute("UPDATE events SET received_at = ? WHERE device = ? AND seq = 1", (old_iso(40), d.device))
    finally:
        c.close()
    await _retention(server.app)
    assert [r["seq"] for r in server.query("SELECT seq FROM events WHERE device = ?", (d.device,))] == [2]

    await ensure_configured(server.app)
    assert aiohttp_jinja2.get_env(server.app).globals["time_zone"] == "Asia/Kolkata"
    assert str(server.app[ALERTER].tz) == "Asia/Kolkata"
    assert server.app[ALERTER].policy.settings.retention_days == 30


async def test_the_alert_routes_follow_a_published_policy_and_a_bad_one_is_refused(
        device: Any, server: Any, tmp_path: Any) -> None:
    """The server's routes are its --policy's alerts.toml until a bundle is in force, then the
    bundle's (no restart); a folder whose alerts.toml does not load is not published."""
    import shutil

    import pytest

    from checker import DEFAULT_POLICY_DIR
    from server.checkpoint import load_key
    from server.keys import LIGHT, SERVED
    from server.policy_bundle import BundleError, publish

    folder = tmp_path / "region14"
    shutil.copytree(DEFAULT_POLICY_DIR, folder)
    (folder / "alerts.toml").write_text(
        'console_base_url = "https://postguard.region14.example"\n[[route]]\nname = "published-route"\nrules = ["conduct"]\n'
        'email = ["published-route@region14.example"]\nmode = "immediate"\n', encoding="utf-8")  # fictional
    bad = tmp_path / "bad"
    shutil.copytree(folder, bad)
    (bad / "alerts.toml").write_text('console_base_url = "https://x.example"\n[[route]]\nname = "x"\nrules = ["no-such-rule"]\nemail = ["a@b.example"]\n')
    c = server.conn()
    try:
        with pytest.raises(BundleError, match="alert routes"):
            publish(c, bad, load_key(server.cfg.signing_key), "test")
        publish(c, folder, load_key(server.cfg.signing_key), "test")
    finally:
        c.close()
    await server.app[SERVED].refresh(server.app[LIGHT])

    d = await device()
    await d.send_events(chain(d.device, 1))
    targets = {r["target"] for r in server.query("SELECT target FROM alert_outbox")}
    assert targets == {"published-route@region14.example"}
