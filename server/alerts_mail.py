"""The alert e-mails: plain text, ids and a link only (no post, excerpt or name)."""

from __future__ import annotations

from datetime import tzinfo
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import TYPE_CHECKING

from checker.categories import SEVERITIES
from console.timefmt import parse_utc

if TYPE_CHECKING:
    from server.alerts import Alert

FOOTER = ("This message carries no post text and no names. Open the incident in the review console\n"
          "to see what was logged (the console records who viewed it).\n")


def _rules(a: Alert) -> str:
    return ", ".join(a.rules) + (f" ({', '.join(a.clauses)})" if a.clauses else "")


def when(ts: str, tz: tzinfo) -> str:
    """"2026-12-03 03:14 EST (08:14:05 UTC)": the district's time first, UTC beside it."""
    t = parse_utc(ts)
    if t is None:
        return ts
    return f"{t.astimezone(tz).strftime('%Y-%m-%d %H:%M %Z')} ({t.strftime('%H:%M:%S')} UTC)"


def _headers(msg: EmailMessage, sender: str, to: str, subject: str) -> EmailMessage:
    msg["From"] = sender
    msg["To"] = to
    msg["Subject"] = subject
    msg["Date"] = formatdate(usegmt=True)
    msg["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2] or None)
    msg["Auto-Submitted"] = "auto-generated"  # RFC 3834: no vacation replies to this
    return msg


def one_message(a: Alert, sender: str, to: str, tz: tzinfo) -> EmailMessage:
    """The e-mail of one alert."""
    level = "URGENT" if a.severity == "urgent" else (a.severity or "alert")
    msg = _headers(EmailMessage(), sender, to, f"[postguard] {level}: {a.kind} - {_rules(a)}")
    msg["X-Postguard-Event"] = a.event
    if a.severity == "urgent":  # mail clients flag it (RFC 2156 Importance, and the older X-Priority)
        msg["Importance"] = "high"
        msg["X-Priority"] = "1"
    lines = [f'An event in the interception log matched the alert route "{a.route}".', "",
             f"kind:        {a.kind}",
             f"severity:    {a.severity or '-'}",
             f"rules:       {_rules(a)}",
             f"categories:  {', '.join(a.categories) or '-'}",
             f"device:      {a.device}",
             f"time:        {when(a.time, tz)}",
             f"incident:    {a.link}", "", FOOTER]
    msg.set_content("\n".join(lines))
    return msg


def digest_message(items: list[Alert], sender: str, to: str, tz: tzinfo) -> EmailMessage:
    """The e-mail of a digest: one line per alert, most urgent first."""
    order = SEVERITIES
    items = sorted(items, key=lambda a: (order.index(a.severity) if a.severity in order else len(order), a.time))
    counts: dict[str, int] = {}
    for a in items:
        counts[a.severity or "-"] = counts.get(a.severity or "-", 0) + 1
    summary = ", ".join(f"{n} {lv}" for lv, n in counts.items())
    msg = _headers(EmailMessage(), sender, to, f"[postguard] digest: {len(items)} alerts ({summary})")
    lines = [f'{len(items)} events in the interception log matched the alert route "{items[0].route}".', ""]
    for a in items:
        lines.append(f"{when(a.time, tz)}  {a.severity or '-':<7} {a.kind:<10} {_rules(a)}  device {a.device}")
        lines.append(f"    {a.link}")
    lines += ["", FOOTER]
    msg.set_content("\n".join(lines))
    return msg
