"""Incidents: the events of one post under one id, assigned when the events are written.

One post leaves several events: the extension's warning, the employee's choice (edited,
cancelled, posted anyway), the proxy's view of the request that went out. Events carry no post
id and the content hash changes with every edit, so an event joins an incident of the same
device and site (aliases and sub-domains folded: the proxy sees `graph.facebook.com`, the
extension `www.facebook.com`) that was active within the policy's override window
(`gap_seconds`) and does not contradict it: the same account kind and target where both name
one (targets are compared only between events of one source, since the proxy names a page by
its id and the extension by its URL). Of several such incidents, one holding an event with the
same content hash wins, else the latest that the event's source has not finished with (after
its choice or its final answer, `FINAL`, other content is another post); else the event starts
an incident, as it does when the incident already holds `MAX_EVENTS`. The incident id is its
first event's uid.

Severity comes from the policy, which the log never reads: whoever opens the log with a policy
calls `configure` (the console does on start) with its levels per (rule, category), and the
incidents are ranked again when they change.
"""

from __future__ import annotations

import json
import logging
import re
import threading
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import Any

from store.db import Conn
from store.event import iso

# Least to most urgent: rank = index + 1 (0 = no findings). Same words as checker.policy.SEVERITIES.
LEVELS = ("low", "normal", "high", "urgent")
DEFAULT_GAP_SECONDS = 600
# Which action names the incident's outcome, first present wins (overridden = "posted anyway").
OUTCOME_ORDER = ("overridden", "edited", "blocked", "cancelled", "logged", "warned", "error", "passed")
# The actions after which a source has finished with a post: a later event of that source with
# other content is another post (the extension's warning waits for the choice; the proxy's
# warning for "Post anyway" and the post it lets through).
FINAL = {"extension": frozenset({"edited", "overridden", "cancelled", "passed", "blocked", "logged", "error"}),
         "proxy": frozenset({"passed", "logged", "blocked", "overridden", "error", "cancelled", "edited"})}
# An incident is one post: a full one takes no more events (each batch summarises its incidents'
# events again, so this also bounds that work).
MAX_EVENTS = 25
_SETTINGS_KEY = "incidents"
_EVENT_COLS = "id, uid, ts, device, employee, source, site, account, target, action, findings, " \
              "justification, content_hash, review_status, staff, staff_source"
# Whose identity an incident shows when its events disagree: the browser's signed-in profile, then the
# OS account of the connection, then the device's assigned user.
_STAFF_RANK = {"browser-profile": 3, "os-user": 2, "enrolment": 1}
_SLDS = {"co", "com", "org", "net", "ac", "gov", "edu", "ne", "or"}
# What the review queue's event filters look for in an incident's `tags` (one token per value
# any of its events has): rule, clause, rule and clause of one finding, site, action, staff.
TAG_KINDS = ("r", "c", "p", "s", "a", "u")
_TAG_UNSAFE = re.compile(r"[\s~/]")


def seconds_of(ts: str) -> float:
    """Unix time of a stored time (`store.event.iso`; fromisoformat is ~20x strptime)."""
    return datetime.fromisoformat(ts).timestamp()


def rank_of(level: str | None) -> int:
    """0 for none, 1 (low) to 4 (urgent)."""
    return LEVELS.index(level) + 1 if level in LEVELS else 0


def tag(kind: str, *values: str) -> str:
    """One token of an incident's `tags`: the kind and its value(s), whitespace, `~` and `/`
    escaped (`~hex;`), so that no token holds a space and two values never give one token. The
    queue finds an incident whose events name a value with `instr(tags, " " + tag(...) + " ")`."""
    if kind not in TAG_KINDS:
        raise ValueError(f"tag kind: one of {', '.join(TAG_KINDS)}")
    return kind + ":" + "/".join(_TAG_UNSAFE.sub(lambda m: f"~{ord(m.group()):x};", v) for v in values)


def site_key(site: str | None, aliases: dict[str, str]) -> str:
    """The registrable domain of a host, aliases applied ("api.twitter.com" -> "x.com")."""
    host = (site or "").strip().lower().rstrip(".").split(":")[0]
    labels = [p for p in host.split(".") if p]
    n = 3 if len(labels) >= 3 and len(labels[-1]) == 2 and labels[-2] in _SLDS else 2
    key = ".".join(labels[-n:])
    return aliases.get(key, key)


class Settings:
    """What `configure` stored: the join gap, the site aliases and the severity levels."""

    def __init__(self, raw: dict[str, Any] | None = None) -> None:
        raw = raw or {}
        self.gap = float(raw.get("gap_seconds", DEFAULT_GAP_SECONDS))
        self.aliases: dict[str, str] = dict(raw.get("aliases", {}))
        self.levels: dict[str, str] = dict(raw.get("levels", {}))  # "rule/category" -> level
        self.raw = {"gap_seconds": self.gap, "aliases": self.aliases, "levels": self.levels}

    def level(self, rule: str, category: str | None) -> str:
        """The level of a finding: its (rule, category), else the rule's own (rule/), else normal."""
        return self.levels.get(f"{rule}/{category or ''}") or self.levels.get(f"{rule}/") or "normal"


def load_settings(conn: Conn) -> Settings:
    """The stored settings (the defaults until someone configures the log)."""
    raw = conn.scalar("SELECT value FROM incident_settings WHERE key = ?", (_SETTINGS_KEY,))
    return Settings(json.loads(raw) if raw else None)


def configure(conn: Conn, gap_seconds: float, levels: dict[tuple[str, str], str],
              aliases: dict[str, str] | None = None) -> bool:
    """Store the policy's join gap, levels per (rule, category) (category "" = the rule's
    fallback) and site aliases; when they changed, rank every incident again (and build the
    incidents of events written before the log had any). True when something changed."""
    bad = sorted({lv for lv in levels.values() if lv not in LEVELS})
    if bad:
        raise ValueError(f"severity: one of {', '.join(LEVELS)} (got {bad[0]!r})")
    new = Settings({"gap_seconds": float(gap_seconds), "aliases": dict(aliases or {}),
                    "levels": {f"{r}/{c}": lv for (r, c), lv in sorted(levels.items())}})
    with conn.write():
        if load_settings(conn).raw == new.raw and not conn.scalar(
                "SELECT 1 FROM events e WHERE NOT EXISTS (SELECT 1 FROM incidents i WHERE i.id = e.incident) LIMIT 1") \
                and not conn.scalar("SELECT 1 FROM incidents WHERE tags IS NULL LIMIT 1"):  # before migration 11
            return False
        value = json.dumps(new.raw, sort_keys=True)
        if conn.pg:
            conn.execute("INSERT INTO incident_settings (key, value) VALUES (?, ?) ON CONFLICT (key) "
                         "DO UPDATE SET value = EXCLUDED.value", (_SETTINGS_KEY, value))
        else:
            conn.execute("INSERT OR REPLACE INTO incident_settings (key, value) VALUES (?, ?)", (_SETTINGS_KEY, value))
        conn.execute("UPDATE events SET incident = uid WHERE incident IS NULL")
        last = ""
        while True:  # every incident again, in chunks (a rare, policy-change-time job)
            ids = [r["incident"] for r in conn.all(
                "SELECT DISTINCT incident FROM events WHERE incident > ? ORDER BY incident LIMIT 500", (last,))]
            if not ids:
                break
            _rebuild_many(conn, ids, new)
            last = ids[-1]
    refresh_stats(conn)  # every incident was written again
    return True


log = logging.getLogger("postguard.incidents")
# Who is told that a transaction wrote what may be alerted (`signal`): in this process, per
# database, and on PostgreSQL every process LISTENing on CHANNEL.
CHANNEL = "postguard_alerts"
_LISTENERS: dict[str, list[Callable[[str, int], None]]] = {}
_LISTENERS_LOCK = threading.Lock()


def listen(db: str, fn: Callable[[str, int], None]) -> Callable[[], None]:
    """Call `fn(table, upto)` in this process when a transaction on `db` writes events with
    findings (table "events", the batch's highest id) or marks incidents escalated ("reviews",
    the newest review's id). It is called on the writing thread *before* that transaction
    commits: the rows are visible once the table holds `upto` (or never, after a rollback).
    Returns the function that stops it."""
    with _LISTENERS_LOCK:
        _LISTENERS.setdefault(db, []).append(fn)

    def stop() -> None:
        with _LISTENERS_LOCK:
            if fn in _LISTENERS.get(db, []):
                _LISTENERS[db].remove(fn)
    return stop


def signal(conn: Conn, table: str, upto: int) -> None:
    """Inside the writing transaction: tell this process's listeners of `conn.db` (`listen`)
    and, on PostgreSQL, every session LISTENing on CHANNEL (NOTIFY: delivered at commit, not at
    all on rollback; "table:upto"). A listener's fault is logged, never the writer's."""
    with _LISTENERS_LOCK:
        fns = list(_LISTENERS.get(conn.db, ()))
    for fn in fns:
        try:
            fn(table, upto)
        except Exception:
            log.exception("incidents: a listener failed")
    if conn.pg:
        conn.execute("SELECT pg_notify(?, ?)", (CHANNEL, f"{table}:{int(upto)}"))


# The tables whose planner statistics the queue's plans depend on (PostgreSQL).
_QUEUE_TABLES = ("incidents", "events", "event_rules", "event_clauses", "event_pairs")


def refresh_stats(conn: Conn) -> list[str]:
    """On PostgreSQL, ANALYZE the queue's tables whose statistics are missing or stale (more rows
    changed since the last ANALYZE than 1,000 + 10%: autovacuum's rule, for a server that runs
    without autovacuum); the queue's plans (an index walk for a value many incidents have, a sort
    of the few for a rare one) depend on them. The tables analyzed (none on SQLite)."""
    if not conn.pg:
        return []
    stale = [r["relname"] for r in conn.all(
        "SELECT relname FROM pg_stat_user_tables WHERE relid IN (" + ", ".join(f"'{t}'::regclass" for t in _QUEUE_TABLES)
        + ") AND ((last_analyze IS NULL AND last_autoanalyze IS NULL AND n_live_tup + n_mod_since_analyze > 0) "
        "OR n_mod_since_analyze > 1000 + n_live_tup / 10)")]
    for t in stale:
        conn.execute(f"ANALYZE {t}")  # a table that is not ours to analyze: a warning, skipped
    return stale


def assign(conn: Conn, written: Sequence[tuple[int, dict[str, Any]]]) -> None:
    """Put each newly written event (id, row), in order, into an incident (inside the writer's
    transaction): set `events.incident` and write the incidents' summaries. The incidents the
    batch may join are read once, the batch is grouped in memory, and the results are written
    with one statement per kind (an upload of 500 rows is a handful of round trips)."""
    if not written:
        return
    s = load_settings(conn)
    batch = [_event(eid, row, s) for eid, row in written]
    known = _open_incidents(conn, batch, s)  # iid -> its events, oldest first
    places: dict[tuple[str, str], list[str]] = {}  # (device, site key) -> its incidents
    for iid, evs in known.items():
        places.setdefault((evs[0]["device"], evs[0]["key"]), []).append(iid)
    fresh: set[str] = set()
    reopen: set[str] = set()
    for ev in batch:
        here = places.setdefault((ev["device"], ev["key"]), [])
        iid = _choose(ev, {i: known[i] for i in here}, s) or ""
        if not iid:
            iid = str(ev["uid"])
            known[iid] = []
            here.append(iid)
            fresh.add(iid)
        known[iid].append(ev)
        if len(known[iid]) > 1 and ev["ts"] < known[iid][-2]["ts"]:  # an older event arrived late
            known[iid].sort(key=_order)
        ev["incident"] = iid
        if ev["found"]:
            reopen.add(iid)
    conn.executemany("UPDATE events SET incident = ? WHERE id = ?", [(ev["incident"], ev["id"]) for ev in batch])
    touched = list(dict.fromkeys(ev["incident"] for ev in batch))
    _write_rows(conn, {iid: summarise(known[iid], s) for iid in touched}, fresh, reopen)
    if reopen:  # incidents with new findings: the alert sender looks now, not at its next poll
        signal(conn, "events", max(int(ev["id"]) for ev in batch))


def _write_rows(conn: Conn, rows: dict[str, dict[str, Any]], fresh: set[str], reopen: set[str]) -> None:
    """Insert the `fresh` incidents' rows (with their review status), update the others' (and
    open again those in `reopen`): one executemany per kind."""
    if not rows:
        return
    cols = [c for c in next(iter(rows.values())) if c != "review_status"]
    inserts = [(iid, *(r[c] for c in cols), r.get("review_status", "open")) for iid, r in rows.items() if iid in fresh]
    if inserts:
        conn.executemany(f"INSERT INTO incidents (id, {', '.join(cols)}, review_status) "
                         f"VALUES ({', '.join('?' * (len(cols) + 2))})", inserts)
    for again in (True, False):
        sets = ", ".join(f"{c} = ?" for c in cols) + (", review_status = 'open'" if again else "")
        updates = [(*(r[c] for c in cols), iid) for iid, r in rows.items() if iid not in fresh and (iid in reopen) == again]
        if updates:
            conn.executemany(f"UPDATE incidents SET {sets} WHERE id = ?", updates)


def _order(e: dict[str, Any]) -> tuple[str, int]:
    return (e["ts"], int(e["id"]))


def _event(eid: int, row: dict[str, Any], s: Settings) -> dict[str, Any]:
    """A written row as `summarise` and `_choose` read events."""
    ev = {c: row.get(c) for c in _EVENT_COLS.split(", ")}
    ev.update(id=eid, review_status="open", key=site_key(row.get("site"), s.aliases),
              found=json.loads(row.get("findings") or "[]"))
    return ev


def _open_incidents(conn: Conn, batch: list[dict[str, Any]], s: Settings) -> dict[str, list[dict[str, Any]]]:
    """The incidents (not full) of the batch's devices and sites active around its times, each
    with its events."""
    lo = iso(min(seconds_of(e["ts"]) for e in batch) - s.gap)
    hi = iso(max(seconds_of(e["ts"]) for e in batch) + s.gap)
    ids: list[str] = []
    for dev, key in sorted({(e["device"], e["key"]) for e in batch}):
        ids += [r["id"] for r in conn.all("SELECT id FROM incidents WHERE device = ? AND site_key = ? AND last_ts >= ? "
                                          "AND first_ts <= ? AND events < ?", (dev, key, lo, hi, MAX_EVENTS))]
    out: dict[str, list[dict[str, Any]]] = {i: [] for i in ids}
    for i in range(0, len(ids), 500):
        chunk = ids[i:i + 500]
        for e in conn.all(f"SELECT {_EVENT_COLS}, incident FROM events WHERE incident IN "
                          f"({', '.join('?' * len(chunk))}) ORDER BY ts, id", chunk):
            e.update(key=site_key(e["site"], s.aliases), found=json.loads(e["findings"] or "[]"))
            out[e["incident"]].append(e)
    return {i: evs for i, evs in out.items() if evs}


def _choose(ev: dict[str, Any], known: dict[str, list[dict[str, Any]]], s: Settings) -> str | None:
    """Of `known` (incidents of the event's device and site), the one this event joins, or None
    for a new one. Events of other sources than the
    two that see posts (the agent's, the server's) are incidents of their own."""
    if ev["source"] not in FINAL:
        return None
    t = seconds_of(ev["ts"])
    lo, hi = iso(t - s.gap), iso(t + s.gap)
    cands = []
    for iid, evs in known.items():
        first = evs[0]
        if len(evs) >= MAX_EVENTS or evs[-1]["ts"] < lo or first["ts"] > hi or first["source"] not in FINAL:
            continue
        if _compatible(_who(evs), ev):
            cands.append((evs[-1]["ts"], iid))
    cands.sort(reverse=True)
    same = [i for _, i in cands if ev["content_hash"] and any(e["content_hash"] == ev["content_hash"] for e in known[i])]
    still_open = [i for _, i in cands if not any(e["source"] == ev["source"] and e["action"] in FINAL[e["source"]]
                                                   for e in known[i])]
    pick = same or still_open
    return pick[0] if pick else None


def _who(evs: list[dict[str, Any]]) -> dict[str, Any]:
    """The account kind and target an incident's events name (the first of each)."""
    targeted = next((e for e in evs if e["target"]), None)
    return {"account": next((e["account"] for e in evs if e["account"]), None),
            "target": targeted["target"] if targeted else None,
            "target_source": targeted["source"] if targeted else None}


def ensure(conn: Conn, iid: str) -> bool:
    """Build an incident's row if its events have none yet; True when it exists now."""
    if not conn.scalar("SELECT 1 FROM incidents WHERE id = ?", (iid,)):
        _rebuild_many(conn, [iid], load_settings(conn))
    return bool(conn.scalar("SELECT 1 FROM incidents WHERE id = ?", (iid,)))


def _compatible(inc: dict[str, Any], row: dict[str, Any]) -> bool:
    if inc["account"] and row.get("account") and inc["account"] != row["account"]:
        return False
    if inc["target"] and row.get("target") and inc["target_source"] == row["source"]:
        return bool(inc["target"] == row["target"])
    return True


def _rebuild_many(conn: Conn, ids: list[str], s: Settings) -> None:
    """Summarise these incidents' events into their rows again (one read, one write per kind;
    review state kept). An incident whose first event retention purged is named by its next."""
    groups: dict[str, list[dict[str, Any]]] = {}
    for e in conn.all(f"SELECT {_EVENT_COLS}, incident FROM events WHERE incident IN ({', '.join('?' * len(ids))})",
                      ids):
        groups.setdefault(e["incident"], []).append(e)
    renamed = {}
    for iid, evs in list(groups.items()):
        evs.sort(key=_order)
        if all(e["uid"] != iid for e in evs):
            renamed[iid] = evs[0]["uid"]
            groups[evs[0]["uid"]] = groups.pop(iid)
    if renamed:
        conn.executemany("UPDATE events SET incident = ? WHERE incident = ?", [(n, o) for o, n in renamed.items()])
    have = {r["id"] for r in conn.all(f"SELECT id FROM incidents WHERE id IN ({', '.join('?' * len(groups))})",
                                      list(groups))} if groups else set()
    rows = {iid: summarise(evs, s) for iid, evs in groups.items()}
    fresh = set(groups) - have
    for iid in fresh:
        rows[iid]["review_status"] = _initial_status(groups[iid])
    _write_rows(conn, rows, fresh, set())


def _initial_status(evs: list[dict[str, Any]]) -> str:
    """An incident built from events reviewed one by one: open while any of them is."""
    statuses = [e["review_status"] for e in evs]
    return "open" if "open" in statuses else statuses[-1]


def summarise(evs: Iterable[dict[str, Any]], s: Settings) -> dict[str, Any]:
    """The incident columns of its events."""
    evs = sorted(evs, key=_order)
    first, last = evs[0], evs[-1]
    best: tuple[int, dict[str, Any], str] | None = None  # (rank, finding, event uid)
    lead = last["uid"]
    rules: list[str] = []
    for e in evs:
        for f in e["found"] if "found" in e else json.loads(e["findings"] or "[]"):
            rule = str(f.get("rule") or "")
            if not rule:
                continue
            if rule not in rules:
                rules.append(rule)
            r = rank_of(s.level(rule, f.get("category")))
            if best is None or r > best[0]:
                best = (r, f, e["uid"])
            if r == best[0]:
                lead = e["uid"]  # the latest event with the most urgent finding
    targeted = next((e for e in evs if e["target"]), None)
    who = max((e for e in evs if e.get("staff")), key=lambda e: _STAFF_RANK.get(e.get("staff_source") or "", 0),
              default=None)
    actions = {e["action"] for e in evs}
    f = best[1] if best else {}
    tags = {tag("a", str(e["action"])) for e in evs} | {tag("s", str(e["site"])) for e in evs if e["site"]} \
        | {tag("u", str(e["staff"])) for e in evs if e.get("staff")}
    for e in evs:  # as the event list's indexes hold them (store.ingest, store.writer)
        for x in e["found"] if "found" in e else json.loads(e["findings"] or "[]"):
            rule, clause = str(x.get("rule") or ""), str(x.get("clause") or "")
            tags |= {t for t, ok in ((tag("r", rule), rule), (tag("c", clause), clause),
                                     (tag("p", rule, clause), rule and clause)) if ok}
    return {
        "device": first["device"], "site_key": site_key(first["site"], s.aliases),
        "site": next((e["site"] for e in evs if e["site"]), None),  # where the employee was first
        "account": next((e["account"] for e in evs if e["account"]), None),
        "target": targeted["target"] if targeted else None,
        "target_source": targeted["source"] if targeted else None,
        "employee": next((e["employee"] for e in evs if e["employee"]), None),
        "first_ts": first["ts"], "last_ts": last["ts"], "events": len(evs),
        "sources": " ".join(sorted({e["source"] for e in evs})),
        "actions": " ".join(a for a in OUTCOME_ORDER if a in actions),
        "outcome": next((a for a in OUTCOME_ORDER if a in actions), last["action"]),
        "rules": " ".join(rules), "rule": f.get("rule"), "category": f.get("category"),
        "clause": f.get("clause"), "severity": LEVELS[best[0] - 1] if best else None,
        "severity_rank": best[0] if best else 0, "flagged": 1 if best else 0,
        "justification": next((e["justification"] for e in reversed(evs) if e["justification"]), None),
        "lead_event": lead if best else last["uid"], "last_event": last["uid"],
        "content_hash": last["content_hash"],
        "staff": who["staff"] if who else None, "staff_source": who["staff_source"] if who else None,
        "tags": " " + " ".join(sorted(tags)) + " ",
    }
