"""`postguard agent status`: the enrolment, whether the agent runs, what waits in the queue, what
the running agent last reported (status.json), and the proxy's device CA (agent/ca.py): whether it
is there, its fingerprint, constraints and expiry, and on Linux whether the browser policies
installed on this computer trust it."""

from __future__ import annotations

import sys
import textwrap
import time
from pathlib import Path
from typing import Any

from agent import ca
from agent.policy_dir import PolicyDir
from agent.queue import stats
from agent.runner import is_running
from agent.state import StateDir, read_status
from store.db import Conn, migrate
from store.problems import QUEUE_ALARM, seconds_of

STALE_STATUS = 30.0  # seconds: a running agent rewrites status.json every 2 s


def default_system_root() -> Path | None:
    """Where installed browser policies are looked for: `/` on Linux; elsewhere an MDM installs
    them and they are not looked at."""
    return Path("/") if sys.platform.startswith("linux") else None


SYSTEM_ROOT = default_system_root()


def collect(state: StateDir, system_root: Path | None = SYSTEM_ROOT) -> dict[str, Any]:
    """Everything `agent status` shows, as one JSON-ready dict (StateError when not enrolled).
    `system_root`: where the browser policies are installed (None: not looked at)."""
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
    out["ca"] = ca_status(state, device.device_id, st, out["running"], system_root)
    out["alarms"] = alarms(out, st)
    out["ok"] = bool(out["running"]) and not out["alarms"]
    return out


def ca_status(state: StateDir, device_id: str, st: dict[str, Any], running: bool,
              system_root: Path | None) -> dict[str, Any]:
    """The proxy's CA (`ca.describe`) in the confdir the running agent gives its proxy (status.json),
    else STATE/mitmproxy; compared with the social domains of the policy in force, and with the
    browser policies installed under `system_root`. `used` is False when the running agent runs no
    proxy: its problems are then shown but raise no alarm."""
    confdir = Path(st["confdir"]) if isinstance(st.get("confdir"), str) else ca.confdir_for(state)
    current = PolicyDir(state.policy).current
    domains = None
    if current.exists():
        try:
            domains = ca.domains_for(current)
        except ca.CAError:
            pass  # the policy's own trouble; `agent run` says so
    d = ca.describe(confdir, device_id=device_id, domains=domains)
    d["used"] = not running or "proxy" in (st.get("components") or {})
    if d["installed"] and system_root is not None:
        from agent.browser_policy import BrowserPolicyError, deployed_ca, read_ca

        try:
            der = read_ca(confdir / ca.CERT_FILES[0]).der
        except BrowserPolicyError as e:
            d["problems"].append(str(e))
        else:
            d["browsers"] = deployed_ca(der, system_root)
            for b in d["browsers"]:
                if b["trusts"] != "this CA":
                    what = "no readable CA" if b["trusts"] == "unreadable" else b["trusts"]
                    d["problems"].append(f"the {b['browser']} policy ({b['file']}) trusts {what}, not this one: "
                                         "run `postguard agent browser-policy` again and deploy it")
    return d


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
    if out["ca"]["used"]:
        found += out["ca"]["problems"]
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
    lines += render_ca(s["ca"])
    lines += [f"ALARM       {a}" for a in s["alarms"]] or ["ok"]
    return "\n".join(lines)


def render_ca(c: dict[str, Any]) -> list[str]:
    """The device CA's lines of the status."""
    pad = " " * 12
    if not c["installed"]:
        return [f"device CA   none in {c['confdir']}" + ("" if c["used"] else " (not used: the agent runs no proxy)")]
    left = c["days_left"]
    lines = [f"device CA   {c['name']}" + ("" if c["used"] else " (not used: the agent runs no proxy)"),
             f"{pad}valid until {c['not_after'][:10]} ("
             + (f"{left} days left" if left >= 0 else "EXPIRED") + f"); key {c['key_file']['path']} "
             f"mode {c['key_file']['mode']}, owner {c['key_file']['owner']}",
             f"{pad}SHA-256 {ca.fingerprint_text(c['fingerprint'])}"]
    bc, nc = c["basic_constraints"], c["name_constraints"]
    if bc is not None:
        lines.append(f"{pad}basic constraints{' (critical)' if bc['critical'] else ''}: CA {bc['ca']}, "
                     f"path length {'none' if bc['path_length'] is None else bc['path_length']}")
    if nc is None:
        lines.append(f"{pad}NO NAME CONSTRAINTS: it can sign for any site")
    else:
        names = f"{len(nc['permitted'])} DNS name(s) permitted: {', '.join(nc['permitted'])}"
        lines += textwrap.wrap(f"name constraints{' (critical)' if nc['critical'] else ''}: {names}", 100,
                               initial_indent=pad, subsequent_indent=pad + "  ", break_on_hyphens=False)
        lines.append(f"{pad}  excluded: {', '.join(nc['excluded']) or 'nothing'}")
    for b in c.get("browsers", []):
        lines.append(f"{pad}{b['browser']}: {b['file']} trusts {b['trusts']}")
    return lines


def _ago(t: Any) -> str:
    if not isinstance(t, (int, float)):
        return "never"
    return f"{max(0.0, time.time() - t):.0f} s ago"


def _updown(v: Any, here: bool) -> str:
    if v is None:
        return "starting" if here else "not run here"
    return "up" if v else "DOWN"
