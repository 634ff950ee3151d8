"""Times on the console's pages in the district's time zone (district.toml `time_zone`); the
log, its exports and the API keep UTC."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from markupsafe import Markup, escape


def parse_utc(ts: str | None) -> datetime | None:
    """A stored time (`store.event.iso`) as an aware UTC datetime; None when absent or not one."""
    try:
        return datetime.strptime(ts or "", "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
    except ValueError:
        return None


def local_text(ts: str | None, tz: ZoneInfo) -> str:
    """"2026-12-03 04:05:06 EST": the stored time in the zone, with the zone's abbreviation."""
    t = parse_utc(ts)
    if t is None:
        return (ts or "")[:19].replace("T", " ")
    return t.astimezone(tz).strftime("%Y-%m-%d %H:%M:%S %Z")


def local_html(ts: str | None, tz: ZoneInfo) -> Markup:
    """The local time in a <time> element whose datetime and title give the UTC time."""
    t = parse_utc(ts)
    if t is None:
        return Markup(escape(local_text(ts, tz)))
    utc = t.strftime("%Y-%m-%dT%H:%M:%SZ")
    return Markup('<time datetime="{0}" title="{0}">{1}</time>').format(utc, local_text(ts, tz))
