"""`postguard logs list|show|export|verify|purge|checkpoint`: read, check and prune the interception
log, and export the server's signed chain-head checkpoints."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from enforce import log_config
from postguard.cli import UsageError
from postguard.commands._checkpoint import run_checkpoint, user_name
from postguard.commands._common import add_policy_arg, policy_from
from store import ACTIONS, REVIEW_STATUSES, Filters, Store, default_db, open_store
from store.db import describe
from store.export import FORMATS, write_export
from store.query import parse_cursor


def add_db_arg(p: argparse.ArgumentParser) -> None:
    """`--db` (SQLite path or postgresql:// URL) and `--policy`."""
    p.add_argument("--db", metavar="DB", help="SQLite file or postgresql:// URL (default: $POSTGUARD_DB "
                   "or ./var/postguard.sqlite)")
    add_policy_arg(p)


def add_filter_args(p: argparse.ArgumentParser) -> None:
    """The same filters as the console."""
    g = p.add_argument_group("filters")
    g.add_argument("--from", dest="date_from", metavar="YYYY-MM-DD", help="on or after this day (UTC)")
    g.add_argument("--to", dest="date_to", metavar="YYYY-MM-DD", help="on or before this day (UTC)")
    g.add_argument("--rule", help="rule id, e.g. student-privacy")
    g.add_argument("--clause", help="policy clause, e.g. P5")
    g.add_argument("--site", help="host, e.g. www.facebook.com")
    g.add_argument("--employee")
    g.add_argument("--staff", help="the staff member (e-mail address or account name)")
    g.add_argument("--device")
    g.add_argument("--action", choices=ACTIONS)
    g.add_argument("--status", choices=REVIEW_STATUSES, help="review status")


def register(sub: argparse._SubParsersAction) -> None:
    """Add the `logs` parser and its sub-commands."""
    p = sub.add_parser("logs", help="the interception log: list, show, export, verify, purge",
                       description=__doc__)
    s = p.add_subparsers(dest="logs_command", metavar="ACTION", required=True)

    q = s.add_parser("list", help="list events, newest first")
    add_db_arg(q)
    add_filter_args(q)
    q.add_argument("--limit", type=int, default=50, help="events per page (default 50)")
    q.add_argument("--before", metavar="CURSOR", help="the next page: events older than this cursor "
                   "(printed at the end of a page)")
    q.add_argument("--json", action="store_true", help="one JSON object per line")
    q.set_defaults(func=run_list)

    q = s.add_parser("show", help="one event in full (the view is recorded)")
    add_db_arg(q)
    q.add_argument("event", help="event id (number from `list`) or uid")
    q.add_argument("--json", action="store_true")
    q.set_defaults(func=run_show)

    q = s.add_parser("export", help="export matching events as CSV or JSON")
    add_db_arg(q)
    add_filter_args(q)
    q.add_argument("--format", choices=FORMATS, default="csv")
    q.add_argument("-o", "--output", metavar="FILE", help="write here instead of stdout")
    q.set_defaults(func=run_export)

    q = s.add_parser("verify", help="check the hash chains; exit 1 if any event was edited, deleted or reordered")
    add_db_arg(q)
    q.add_argument("--device", help="only this device's chain")
    q.add_argument("--checkpoint", metavar="FILE", help="also check the chain heads signed in this exported "
                   "checkpoint (`postguard logs checkpoint`): a rewrite since then fails")
    q.add_argument("--trusted-key", metavar="FILE", help="the server's public key (KEY.pub beside its signing "
                   "key) the checkpoint must be signed with")
    q.add_argument("--json", action="store_true")
    q.set_defaults(func=run_verify)

    q = s.add_parser("checkpoint", help="sign every chain head now (the server's key) and export the checkpoint")
    q.add_argument("--db", metavar="DB", help="the server's database (default: $POSTGUARD_DB or ./var/postguard.sqlite)")
    q.add_argument("--signing-key", metavar="FILE", default="var/server-signing.key",
                   help="the server's Ed25519 key (default var/server-signing.key)")
    q.add_argument("--latest", action="store_true", help="export the newest stored checkpoint instead of signing one")
    q.add_argument("-o", "--out", metavar="FILE", help="write here (default: stdout); keep it away from the database")
    q.set_defaults(func=run_checkpoint)

    q = s.add_parser("purge", help="delete events older than the retention period")
    add_db_arg(q)
    q.add_argument("--days", type=int, help="override the policy's retention_days")
    q.add_argument("--json", action="store_true")
    q.set_defaults(func=run_purge)


def _open(args: argparse.Namespace) -> Store:
    return open_store(args.db or default_db(), log_config(policy_from(args)))


def _filters(args: argparse.Namespace) -> Filters:
    f = Filters.from_mapping(vars(args))
    try:
        f.validate()
    except ValueError as e:
        raise UsageError(str(e)) from None
    return f


def _read(st: Store, fn: Any) -> Any:
    try:
        return fn()
    except ConnectionError as e:
        raise UsageError(f"cannot read the log {describe(st.db)}: {e}") from None


def table(rows: list[list[str]], headers: list[str]) -> str:
    """A plain aligned text table."""
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)]
    line = lambda cells: "  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)).rstrip()  # noqa: E731
    return "\n".join([line(headers), line(["-" * w for w in widths]), *(line(r) for r in rows)])


def _clip(v: Any, n: int) -> str:
    s = "" if v is None else str(v)
    return s if len(s) <= n else s[: n - 1] + "…"


def run_list(args: argparse.Namespace) -> int:
    """Print one page of events."""
    if args.limit < 1 or args.limit > 10000:
        raise UsageError("--limit: between 1 and 10000")
    f = _filters(args)
    if args.before and parse_cursor(args.before) is None:
        raise UsageError("--before: use the cursor printed after a page (TIME_ID)")
    with _open(args) as st:
        rows, more = _read(st, lambda: st.list_events(f, limit=args.limit, before=args.before))
    if args.json:
        for r in rows:
            print(json.dumps(r, ensure_ascii=False))
        return 0
    if not rows:
        print("no events" + (f" matching {f.active()}" if f.active() else ""))
        return 0
    print(table([[str(r["id"]), r["ts"][:19].replace("T", " "), _clip(r["device"], 16), _clip(r["employee"], 16),
                  r["source"], _clip(r["site"], 22), r["action"], _clip(r["rules"], 40), r["review_status"]]
                 for r in rows],
                ["ID", "TIME (UTC)", "DEVICE", "EMPLOYEE", "SOURCE", "SITE", "ACTION", "RULES", "REVIEW"]))
    if more:
        print(f"\nmore: postguard logs list --before {rows[-1]['cursor']}  (same filters)")
    return 0


def _resolve(st: Store, ref: str) -> str:
    def q(c: Any) -> str | None:
        if ref.isdigit():
            return c.scalar("SELECT uid FROM events WHERE id = ?", (int(ref),))
        return c.scalar("SELECT uid FROM events WHERE uid = ?", (ref,))
    uid = _read(st, lambda: st.read(q))
    if uid is None:
        raise UsageError(f"no event {ref!r}")
    return uid


def highlight(text: str, spans: list[tuple[int, int]], left: str = "»", right: str = "«") -> str:
    """The text with each (merged) span wrapped in markers."""
    out, pos = [], 0
    for a, b in merge_spans(spans, len(text)):
        out += [text[pos:a], left, text[a:b], right]
        pos = b
    out.append(text[pos:])
    return "".join(out)


def merge_spans(spans: list[tuple[int, int]], n: int) -> list[tuple[int, int]]:
    """Sorted, clipped, non-overlapping spans."""
    merged: list[tuple[int, int]] = []
    for a, b in sorted((max(0, int(a)), min(n, int(b))) for a, b in spans):
        if b <= a:
            continue
        if merged and a <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(b, merged[-1][1]))
        else:
            merged.append((a, b))
    return merged


def run_show(args: argparse.Namespace) -> int:
    """Print one event and record that it was viewed."""
    with _open(args) as st:
        uid = _resolve(st, args.event)
        ev = _read(st, lambda: st.get_event(uid))
        st.audit(f"cli:{user_name()}", "view", uid, "postguard logs show")
    if args.json:
        print(json.dumps(ev, ensure_ascii=False, indent=2))
        return 0
    for k in ("id", "uid", "ts", "device", "staff", "staff_source", "employee", "source", "site", "url", "account", "target", "kind",
              "action", "policy_digest", "content_mode", "content_hash", "review_status", "chain"):
        print(f"{k:>14}: {'' if ev.get(k) is None else ev[k]}")
    if ev.get("justification"):
        print(f"{'justification':>14}: {ev['justification']}")
    if ev.get("error"):
        print(f"{'error':>14}: {ev['error']}")
    print("\nfindings:")
    for f in ev["findings"] or []:
        print(f"  - {f.get('rule')} ({f.get('clause')}), score {f.get('score')}: {f.get('reason', '')}")
    if ev.get("content") is not None:
        spans = [tuple(f["span"]) for f in ev["findings"] if f.get("span")]
        print("\ncontent (matched spans in »«):\n  " + highlight(ev["content"], spans).replace("\n", "\n  "))
    else:
        print("\ncontent: not kept (policy content mode 'none')")
    for r in ev["reviews"]:
        print(f"\nreview {r['ts'][:19]} by {r['reviewer']}: {r['status']} {r['note'] or ''}")
    return 0


def run_export(args: argparse.Namespace) -> int:
    """Export events; the export is recorded in the audit trail."""
    f = _filters(args)
    with _open(args) as st:
        out = open(args.output, "w", encoding="utf-8", newline="") if args.output else sys.stdout
        try:
            n = _read(st, lambda: write_export(st.iter_events(f), args.format, out))
        finally:
            if args.output:
                out.close()
        st.audit(f"cli:{user_name()}", "export", None, json.dumps({"format": args.format, "n": n, **f.active()}))
    if args.output:
        print(f"exported {n} events to {args.output}", file=sys.stderr)
    return 0


def _checkpoint_file(args: argparse.Namespace) -> Any:
    """The exported checkpoint, its signature checked (UsageError when it cannot be trusted)."""
    from server.checkpoint import CheckpointError, read_file, trusted_key_from

    try:
        trusted = trusted_key_from(args.trusted_key) if args.trusted_key else None
        return read_file(args.checkpoint, trusted)
    except CheckpointError as e:
        raise UsageError(str(e)) from None


def run_verify(args: argparse.Namespace) -> int:
    """Verify every chain (and the heads of a signed checkpoint); exit 1 when anything was tampered with."""
    from store.checkpoints import compare

    cp = _checkpoint_file(args) if args.checkpoint else None
    with _open(args) as st:
        n, problems = _read(st, lambda: st.verify(args.device))
        if cp is not None:
            heads = [h for h in cp.heads if args.device in (None, h["device"])]
            n_heads, cp_problems = _read(st, lambda: st.read(lambda c: compare(c, heads, cp.created_at)))
            problems = problems + cp_problems
    if cp is not None and not args.json:
        print(f"checkpoint of {cp.created_at} (key {cp.key_id}): signature ok, {n_heads} of {len(heads)} "
              f"signed heads still in the log")
    if args.json:
        out: dict[str, Any] = {"checked": n, "ok": not problems, "problems": [p.to_dict() for p in problems]}
        if cp is not None:
            out["checkpoint"] = {"created_at": cp.created_at, "key_id": cp.key_id, "heads": len(heads),
                                 "heads_checked": n_heads}
        print(json.dumps(out))
    elif problems:
        print(f"TAMPERING DETECTED: {len(problems)} problem(s) in {n} events")
        print(table([[p.device, "" if p.seq is None else str(p.seq), p.kind, p.detail] for p in problems],
                    ["DEVICE", "SEQ", "PROBLEM", "DETAIL"]))
    else:
        print(f"ok: {n} events, every chain intact")
    return 1 if problems else 0


def run_purge(args: argparse.Namespace) -> int:
    """Delete events past retention."""
    with _open(args) as st:
        days = st.retention_days if args.days is None else args.days
        if days < 1:
            raise UsageError("retention is 0 days (keep forever); pass --days N to purge")
        n = _read(st, lambda: st.purge(days))
    if args.json:
        print(json.dumps({"purged": n, "days": days}))
    else:
        print(f"purged {n} events older than {days} days")
    return 0
