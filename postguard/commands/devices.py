"""`postguard devices enroll-code|list|show|revoke|problems|resolve`: the district server's devices.

These read and write the server's database directly (`--db`, as `postguard logs`); `problems`
exits 1 when any device is silent, has a component down, runs an unexpected policy, has its
queue near full, or has a chain the server could not extend."""

from __future__ import annotations

import argparse
import json
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from postguard.cli import UsageError
from postguard.commands.logs import table

T = TypeVar("T")
_DURATION = re.compile(r"^(\d+(?:\.\d+)?)([smhd]?)$")
_UNIT = {"s": 1, "m": 60, "h": 3600, "d": 86400, "": 3600}


def _db_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--db", metavar="DB", help="the server's database: postgresql:// URL or SQLite file "
                   "(default: $POSTGUARD_DB or ./var/postguard.sqlite)")


def register(sub: argparse._SubParsersAction) -> None:
    """Add the `devices` parser and its sub-commands."""
    p = sub.add_parser("devices", help="the district server's devices: enrolment codes, health, revocation",
                       description=__doc__)
    s = p.add_subparsers(dest="devices_command", metavar="ACTION", required=True)
    q = s.add_parser("enroll-code", help="make one-time enrolment codes (shown once; only their SHA-256 is kept)")
    _db_arg(q)
    q.add_argument("--count", type=int, default=1, help="how many codes (default 1)")
    q.add_argument("--expires", default="24h", metavar="DURATION", help="valid for, e.g. 30m, 24h, 7d (default 24h)")
    q.add_argument("--json", action="store_true")
    q.set_defaults(func=run_enroll_code)
    q = s.add_parser("list", help="every device with its health and policy status")
    _db_arg(q)
    q.add_argument("--json", action="store_true", help="one JSON object per line")
    q.set_defaults(func=run_list)
    q = s.add_parser("show", help="one device: health, chain head, problems")
    _db_arg(q)
    q.add_argument("device", help="device id")
    q.add_argument("--json", action="store_true")
    q.set_defaults(func=run_show)
    q = s.add_parser("revoke", help="revoke a device: its requests get 401 from now on")
    _db_arg(q)
    q.add_argument("device", help="device id")
    q.add_argument("--json", action="store_true")
    q.set_defaults(func=run_revoke)
    q = s.add_parser("problems", help="open device problems; exit 1 when there are any")
    _db_arg(q)
    q.add_argument("--json", action="store_true")
    q.set_defaults(func=run_problems)
    q = s.add_parser("resolve", help="mark a recorded problem handled (e.g. after looking into a fork)")
    _db_arg(q)
    q.add_argument("problem", type=int, help="problem id (from `devices problems`)")
    q.set_defaults(func=run_resolve)


def parse_duration(v: str) -> float:
    """`30m`, `24h`, `7d`, `90s` (a bare number is hours) -> seconds."""
    m = _DURATION.match(v.strip().lower())
    if not m or float(m.group(1)) <= 0:
        raise UsageError(f"--expires: a duration such as 30m, 24h or 7d (got {v!r})")
    return float(m.group(1)) * _UNIT[m.group(2)]


@contextmanager
def _conn(args: argparse.Namespace) -> Iterator[Any]:
    from store import default_db
    from store.db import Conn, db_down, describe, migrate

    db = args.db or default_db()
    try:
        conn = Conn(db)
        migrate(conn)
    except db_down() as e:
        raise UsageError(f"cannot open the server's database {describe(db)}: {type(e).__name__}") from None
    try:
        yield conn
    finally:
        conn.close()


def _actor() -> str:
    from postguard.commands._checkpoint import user_name as _user

    return f"cli:{_user()}"


def run_enroll_code(args: argparse.Namespace) -> int:
    """Print new one-time codes."""
    from store import devices

    if not 1 <= args.count <= 1000:
        raise UsageError("--count: between 1 and 1000")
    seconds = parse_duration(args.expires)
    with _conn(args) as c:
        codes, expires = devices.make_codes(c, args.count, seconds, _actor())
    if args.json:
        print(json.dumps({"codes": codes, "expires": expires}))
        return 0
    print(f"{len(codes)} enrolment code(s), each usable once, valid until {expires} UTC:")
    for code in codes:
        print(f"  {code}")
    print("on each computer: postguard agent enroll URL CODE")
    return 0


def _with_status(c: Any, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    from server.device_staff import add_staff
    from store import devices, problems

    current, known = devices.current_digest(c), devices.known_digests(c)
    open_by_device: dict[str, list[str]] = {}
    for p in problems.open_problems(c):
        open_by_device.setdefault(p["device"], []).append(p["kind"])
    for r in rows:
        r["policy_status"] = devices.policy_status(r.get("policy_digest"), current, known)
        r["revoked"] = r["revoked_at"] is not None
        r["problems"] = sorted(set(open_by_device.get(r["id"], [])))
    return add_staff(c, rows)  # assigned and signed_in: {staff, staff_source, ts} or null


def _who(v: dict[str, Any] | None) -> str:
    return "" if v is None else str(v["staff"])


def _flag(v: Any) -> str:
    return "?" if v is None else ("up" if v else "DOWN")


def run_list(args: argparse.Namespace) -> int:
    """Print every device."""
    from store import devices

    with _conn(args) as c:
        rows = _with_status(c, devices.list_devices(c))
    if args.json:
        for r in rows:
            print(json.dumps(r, ensure_ascii=False))
        return 0
    if not rows:
        print("no devices enrolled (make a code: postguard devices enroll-code)")
        return 0
    print(table([[r["id"], r["hostname"][:24], _who(r["assigned"])[:32], _who(r["signed_in"])[:32],
                  (r["heartbeat_at"] or "never")[:19].replace("T", " "),
                  r["policy_status"], _flag(r["proxy_up"]), _flag(r["backend_up"]),
                  "" if r["queue_depth"] is None else str(r["queue_depth"]),
                  "REVOKED" if r["revoked"] else (", ".join(r["problems"]) or "ok")] for r in rows],
                ["DEVICE", "HOST", "ASSIGNED TO", "LAST SIGNED IN", "LAST HEARTBEAT (UTC)", "POLICY", "PROXY", "BACKEND", "QUEUE", "STATUS"]))
    return 0


def _one(args: argparse.Namespace, fn: Callable[[Any], T]) -> T:
    with _conn(args) as c:
        return fn(c)


def run_show(args: argparse.Namespace) -> int:
    """Print one device."""
    from store import devices, problems

    def get(c: Any) -> dict[str, Any] | None:
        d = devices.get_device(c, args.device)
        if d is not None:
            _with_status(c, [d])
            d["problem_history"] = problems.device_problems(c, args.device)
        return d

    d = _one(args, get)
    if d is None:
        raise UsageError(f"no device {args.device!r}")
    if args.json:
        print(json.dumps(d, ensure_ascii=False, indent=2))
        return 0
    for k in ("id", "hostname", "name", "enrolled_at", "revoked_at", "heartbeat_at", "heartbeat_interval",
              "agent_version", "policy_digest", "policy_status", "proxy_up", "backend_up", "extension_seen",
              "queue_depth", "queue_limit", "clock", "skew_seconds", "started_at", "last_seq", "server_seq"):
        print(f"{k:>18}: {'' if d.get(k) is None else d[k]}")
    for k, label in (("assigned", "assigned to"), ("signed_in", "last signed in")):
        v = d[k]
        who = "" if v is None else f"{v['staff']} ({v['staff_source']}, {str(v['ts'])[:19].replace('T', ' ')})"
        print(f"{label:>18}: {who}")
    for p in d["problem_history"]:
        state = "open" if p["resolved"] is None else f"resolved {p['resolved'][:19]}"
        print(f"  problem #{p['id']} {p['kind']} ({state}, seen {p['times']}x): {p['detail']}")
    return 0


def run_revoke(args: argparse.Namespace) -> int:
    """Revoke a device."""
    from store import devices

    def revoke(c: Any) -> tuple[bool, bool]:
        return devices.revoke(c, args.device, _actor()), devices.get_device(c, args.device) is not None

    done, exists = _one(args, revoke)
    if not exists:
        raise UsageError(f"no device {args.device!r}")
    if args.json:
        print(json.dumps({"device": args.device, "revoked": True, "changed": done}))
    else:
        print(f"revoked {args.device}" if done else f"{args.device} was already revoked")
    return 0


def run_problems(args: argparse.Namespace) -> int:
    """Print open problems; exit 1 when there are any."""
    from store import problems

    rows = _one(args, problems.open_problems)
    if args.json:
        print(json.dumps({"ok": not rows, "problems": rows}, ensure_ascii=False))
    elif rows:
        print(f"{len(rows)} device problem(s):")
        print(table([["" if r["id"] is None else str(r["id"]), r["device"], r["kind"], r["opened"][:19].replace("T", " "),
                      r["detail"]] for r in rows], ["ID", "DEVICE", "PROBLEM", "SINCE (UTC)", "DETAIL"]))
    else:
        print("ok: no device problems")
    return 1 if rows else 0


def run_resolve(args: argparse.Namespace) -> int:
    """Mark a problem handled."""
    from store import problems

    if not _one(args, lambda c: problems.resolve_by_id(c, args.problem, _actor())):
        raise UsageError(f"no open problem #{args.problem}")
    print(f"problem #{args.problem} resolved")
    return 0
