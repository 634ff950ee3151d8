"""`postguard alerts check|test|status`: the server's alerts (docs/server.md, "Alerts").

`check` validates the policy's alerts.toml and prints its routes; `test` sends a test alert now
with the delivery settings of the environment (POSTGUARD_SMTP_*, POSTGUARD_WEBHOOK_SECRET), to
see that they work; `status` reads the outbox in the server's database and exits 1 when an alert
waits after a failed try."""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from typing import Any
from zoneinfo import ZoneInfo

from postguard.cli import UsageError
from postguard.commands._common import add_policy_arg, policy_from
from postguard.commands.devices import _conn, _db_arg
from postguard.commands.logs import table


def register(sub: argparse._SubParsersAction) -> None:
    """Add the `alerts` parser and its sub-commands."""
    p = sub.add_parser("alerts", help="the server's alerts: check the routes, send a test, see what waits",
                       description=__doc__)
    s = p.add_subparsers(dest="alerts_command", metavar="ACTION", required=True)
    q = s.add_parser("check", help="validate alerts.toml and print its routes")
    add_policy_arg(q)
    q.add_argument("--file", metavar="FILE", help="another routes file (default: the policy folder's alerts.toml)")
    q.add_argument("--json", action="store_true")
    q.set_defaults(func=run_check)
    q = s.add_parser("test", help="send a test alert now with the environment's delivery settings")
    add_policy_arg(q)
    q.add_argument("--to", action="append", default=[], metavar="ADDRESS", help="an e-mail address (repeatable)")
    q.add_argument("--webhook", action="append", default=[], metavar="URL", help="a webhook URL (repeatable)")
    q.set_defaults(func=run_test)
    q = s.add_parser("status", help="alerts waiting and sent, per channel; exit 1 when one waits after a failure")
    _db_arg(q)
    q.add_argument("--json", action="store_true")
    q.set_defaults(func=run_status)


def _routes(args: argparse.Namespace, policy: Any = None) -> Any:
    from checker.errors import PolicyError
    from server.alerts_policy import load_alerts

    try:
        return load_alerts(policy or policy_from(args), getattr(args, "file", None))
    except PolicyError as e:
        raise UsageError(str(e)) from None


def run_check(args: argparse.Namespace) -> int:
    """Print the routes (exit 2 on a mistake in the file)."""
    routes = _routes(args)
    rows = [{"name": r.name, "mode": r.mode, "every": r.every if r.mode == "digest" else None,
             "severity": sorted(r.severity), "rules": sorted(r.rules), "categories": sorted(r.categories),
             "actions": sorted(r.actions), "email": list(r.email), "webhook": list(r.webhook)} for r in routes.routes]
    if args.json:
        print(json.dumps({"console_base_url": routes.console_base_url, "routes": rows}))
        return 0
    if not rows:
        print("no alert routes (the policy folder has no alerts.toml)")
        return 0
    when = lambda r: "; ".join(f"{k} {', '.join(r[k])}" for k in ("severity", "rules", "categories", "actions")  # noqa: E731
                               if r[k]) or "every event with a finding"
    print(table([[r["name"], r["mode"] + (f" {r['every']}s" if r["every"] else ""), when(r),
                  ", ".join(r["email"] + r["webhook"])] for r in rows], ["route", "mode", "when", "to"]))
    print(f"links to {routes.console_base_url}/events/ID")
    return 0


def run_test(args: argparse.Namespace) -> int:
    """Send one test alert to each --to and --webhook; exit 1 when any was not delivered."""
    from server.alerts import Alert
    from server.alerts_mail import one_message
    from server.alerts_policy import parse_alerts
    from server.alerts_settings import AlertSettings
    from server.alerts_transport import send_mail

    if not args.to and not args.webhook:
        raise UsageError("name at least one --to ADDRESS or --webhook URL")
    policy = policy_from(args)
    try:
        settings = AlertSettings.from_env()
        parse_alerts({"console_base_url": "https://check.invalid",  # the addresses and URLs, checked as routes are
                      "route": [{"name": "test", "email": args.to, "webhook": args.webhook}]}, policy)
    except ValueError as e:
        raise UsageError(str(e)) from None
    if args.to and not settings.smtp_host:
        raise UsageError("--to: no SMTP server is set (POSTGUARD_SMTP_HOST)")
    if args.webhook and not settings.webhook_secret:
        raise UsageError("--webhook: no webhook secret is set (POSTGUARD_WEBHOOK_SECRET)")
    now = time.strftime("%Y-%m-%dT%H:%M:%S.000000Z", time.gmtime())
    base = settings.console_base_url or _routes(args, policy).console_base_url
    alert = Alert(event="test", kind="test", severity=None, rules=[], clauses=[], categories=[], device="-", time=now,
                  link=f"{base}/events", route="test")
    tz = ZoneInfo(policy.district.time_zone)
    errors = send_mail(settings, [one_message(alert, settings.mail_from, to, tz) for to in args.to]) if args.to else []
    errors += asyncio.run(_post_all(settings, args.webhook, alert))
    for target, err in zip([*args.to, *args.webhook], errors, strict=True):
        print(f"{target}: {'sent' if err is None else 'NOT delivered: ' + err}")
    return 1 if any(errors) else 0


async def _post_all(settings: Any, urls: list[str], alert: Any) -> list[str | None]:
    import aiohttp

    from server.alerts_transport import post_webhook, webhook_body

    body, event = webhook_body([alert], digest=False)
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=settings.timeout_seconds)) as http:
        return [await post_webhook(http, u, settings.webhook_secret, body, event, "test") for u in urls]


def run_status(args: argparse.Namespace) -> int:
    """Print the outbox per channel and state, and the waiting alerts that failed."""
    with _conn(args) as c:
        counts = c.all("SELECT channel, CASE WHEN sent_at IS NULL THEN 'waiting' ELSE 'sent' END AS state, "
                       "COUNT(*) AS n, MIN(created) AS oldest FROM alert_outbox GROUP BY channel, "
                       "CASE WHEN sent_at IS NULL THEN 'waiting' ELSE 'sent' END ORDER BY channel, state")
        failing = c.all("SELECT id, channel, target, route, kind, attempts, created, next_try, last_error "
                        "FROM alert_outbox WHERE sent_at IS NULL AND attempts > 0 ORDER BY id LIMIT 100")
    if args.json:
        print(json.dumps({"counts": counts, "failing": failing}))
    else:
        print(table([[r["channel"], r["state"], str(r["n"]), r["oldest"]] for r in counts],
                    ["channel", "state", "alerts", "oldest"]) if counts else "no alerts in the outbox")
        if failing:
            print(f"\n{len(failing)} waiting after a failed try (retried by the server):")
            print(table([[str(f["id"]), f["channel"], f["target"], str(f["attempts"]), f["next_try"],
                          f["last_error"] or ""] for f in failing],
                        ["id", "channel", "to", "tries", "next try", "last error"]))
    return 1 if failing else 0
