"""`postguard agent status`: the enrolment, whether the agent runs, what waits in the queue, and
what the running agent last reported (status.json)."""

from __future__ import annotations

import time
from typing import Any

from agent.queue import stats
from agent.runner import is_running
from agent.state import StateDir, read_status
from store.db import Conn, migrate
from store.problems import QUEUE_ALARM, seconds_of

STALE_STATUS = 30.0  # seconds: a running agent rewrites status.json every 2 s


def collect(state: StateDir) -> dict[str, Any]:
    """Everything `agent status` shows, as one JSON-ready dict (StateError when not enrolled)."""
    device = state.load_device()
    out: dict[str, Any] = {"state": str(state.root), **device.to_json(), "running": is_running(state)}
    q = None
    if state.queue.exists():
        conn = Conn(str(state.queue))
        try:
            migrate(conn)
            q = stats(conn, device.device_id)
        finally:
            conn.close()
    out["queue"] = {"depth": q.depth if q else 0, "oldest": q.oldest if q else None,
                    "head_seq": q.head_seq if q else 0, "other_devices": q.foreign if q else 0}
    st = read_status(state) or {}
    out["agent"] = st
    out["alarms"] = alarms(out, st)
    out["ok"] = bool(out["running"]) and not out["alarms"]
    return out


def alarms(out: dict[str, Any], st: dict[str, Any]) -> list[str]:
    """What someone should look at, in words (empty when all is well)."""
    found: list[str] = []
    if not out["running"]:
        found.append("the agent is not running")
    elif st.get("updated_at") and time.time() - seconds_of(st["updated_at"]) > STALE_STATUS:
        found.append("the agent has not updated its status for over 30 s (hung?)")
    fw = st.get("forwarder") or {}
    hb = st.get("heartbeat") or {}
    if fw.get("refused") or hb.get("revoked"):
        found.append(f"the server refuses this device ({fw.get('refused') or 'revoked'})")
    if fw.get("error") and out["queue"]["depth"]:
        found.append(f"uploads failing: {fw['error']}")
    if hb.get("error"):
        found.append(f"heartbeats failing: {hb['error']}")
    limit = st.get("queue_limit") or 0
    if limit and out["queue"]["depth"] >= QUEUE_ALARM * limit:
        found.append(f"queue near full: {out['queue']['depth']:,} of {limit:,} events")
    if out["queue"]["other_devices"]:
        found.append(f"{out['queue']['other_devices']:,} event(s) under another device id cannot be sent "
                     f"with this enrolment")
    pol = st.get("policy") or {}
    if pol.get("refused"):
        found.append(f"policy bundle refused, version {pol.get('version', 0)} stays: {pol['refused']}")
    for name, c in (st.get("components") or {}).items():
        if out["running"] and not c.get("alive"):
            found.append(f"{name} is not running")
    return found


def render(s: dict[str, Any]) -> str:
    """The human-readable status."""
    st, q = s["agent"], s["queue"]
    fw, hb = st.get("forwarder") or {}, st.get("heartbeat") or {}
    lines = [
        f"device      {s['device_id']} ({s['hostname']}), enrolled {s['enrolled_at'][:19].replace('T', ' ')}",
        f"server      {s['server']}",
        f"agent       {'running' if s['running'] else 'NOT RUNNING'}"
        + (f" since {st['started_at'][:19].replace('T', ' ')} UTC (pid {st.get('pid')})" if s["running"] and
           st.get("started_at") else ""),
        f"queue       {q['depth']:,} event(s) waiting" + (f", oldest from {q['oldest'][:19].replace('T', ' ')}"
                                                         if q["oldest"] else "")
        + f"; chain head seq {q['head_seq']}",
    ]
    if fw:
        last = _ago(fw.get("last_ok_at"))
        lines.append(f"uploads     {fw.get('uploaded', 0):,} stored this run, committed through seq "
                     f"{fw.get('committed_through', 0)}; last success {last}")
    if hb:
        run_here = st.get("components") or {}
        lines.append(f"heartbeat   every {hb.get('interval')} s, last accepted {_ago(hb.get('last_ok_at'))}; "
                     f"proxy {_updown(hb.get('proxy_up'), 'proxy' in run_here)}, "
                     f"backend {_updown(hb.get('backend_up'), 'backend' in run_here)}, "
                     f"extension seen {hb.get('extension_seen') or 'never'}")
    if pol := st.get("policy"):
        lines.append(f"policy      {'signed version ' + str(pol['version']) if pol.get('version') else 'local (no signed bundle yet)'}"
                     f", digest {pol.get('policy_digest') or '?'}; last asked {_ago(pol.get('last_check_at'))}"
                     + (f"; {pol['error']}" if pol.get("error") else ""))
    lines += [f"ALARM       {a}" for a in s["alarms"]] or ["ok"]
    return "\n".join(lines)


def _ago(t: Any) -> str:
    if not isinstance(t, (int, float)):
        return "never"
    return f"{max(0.0, time.time() - t):.0f} s ago"


def _updown(v: Any, here: bool) -> str:
    if v is None:
        return "starting" if here else "not run here"
    return "up" if v else "DOWN"
