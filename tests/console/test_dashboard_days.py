"""The dashboard counts per day in the district's time zone (district.toml `time_zone`), not per
UTC day: posts on either side of midnight there fall on two days, also on the days the clocks
change and in a zone half an hour off UTC; on SQLite and PostgreSQL, and on the console's page."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from console_helpers import login

from store import Event, Store, StoreConfig, open_store, query

CONDUCT = {"rule": "conduct", "clause": "P9", "reason": "insult", "score": 0.9, "category": "insult"}


def at(y: int, mo: int, d: int, h: int, mi: int) -> float:
    """A UTC time."""
    return datetime(y, mo, d, h, mi, tzinfo=UTC).timestamp()


def seed(st: Store, times: list[float], action: str = "warned") -> None:
    for i, t in enumerate(times):
        st.append(Event(source="extension", action=action, site="x.com", device=f"pc-{i}", time=t,
                        text=f"fictional post {i}", findings=[CONDUCT]))
    assert st.flush()


def per_day(d: dict[str, Any]) -> dict[str, int]:
    return {r["day"]: r["n"] for r in d["per_day"] if r["rule"] == "conduct"}


@pytest.fixture(params=["sqlite", "postgres"])
def log(request: pytest.FixtureRequest, tmp_path: Path) -> Any:
    db = str(tmp_path / "log.sqlite") if request.param == "sqlite" else request.getfixturevalue("pg_url")
    st = open_store(db, StoreConfig("full", 0), spool=tmp_path / "spool.jsonl", auto_purge=False)
    yield st
    st.close()


def test_either_side_of_midnight_in_new_york(log: Store) -> None:
    # 23:30 and 23:59 EST on 19 November are 04:30 and 04:59 UTC on the 20th; 00:30 EST on the 20th is 05:30 UTC
    seed(log, [at(2026, 11, 20, 4, 30), at(2026, 11, 20, 4, 59), at(2026, 11, 20, 5, 30)])
    d = log.read(lambda c: query.dashboard(c, 7, today=date(2026, 11, 20), time_zone="America/New_York"))
    assert per_day(d) == {"2026-11-19": 2, "2026-11-20": 1}
    assert d["days"][-1] == "2026-11-20" and d["since"] == "2026-11-14" and d["total"] == 3
    assert d["override_per_day"] == [{"day": "2026-11-19", "shown": 2, "overridden": 0},
                                     {"day": "2026-11-20", "shown": 1, "overridden": 0}]
    utc = log.read(lambda c: query.dashboard(c, 7, today=date(2026, 11, 20), time_zone="UTC"))
    assert per_day(utc) == {"2026-11-20": 3}
    # the first day starts at its midnight in New York: 04:30 UTC on the 14th is still the 13th there
    seed(log, [at(2026, 11, 14, 4, 30), at(2026, 11, 14, 5, 0)])
    d = log.read(lambda c: query.dashboard(c, 7, today=date(2026, 11, 20), time_zone="America/New_York"))
    assert per_day(d)["2026-11-14"] == 1 and "2026-11-13" not in per_day(d) and d["total"] == 4


def test_the_days_the_clocks_change(log: Store) -> None:
    # 8 March 2026 has 23 hours in New York (05:00 UTC to 04:00 UTC on the 9th), 1 November 25 hours
    seed(log, [at(2026, 3, 9, 3, 30), at(2026, 3, 9, 4, 30),      # 23:30 EDT on the 8th, 00:30 EDT on the 9th
               at(2026, 11, 2, 4, 30), at(2026, 11, 2, 5, 30)])  # 23:30 EST on the 1st, 00:30 EST on the 2nd
    spring = log.read(lambda c: query.dashboard(c, 3, today=date(2026, 3, 9), time_zone="America/New_York"))
    assert per_day(spring) == {"2026-03-08": 1, "2026-03-09": 1}
    autumn = log.read(lambda c: query.dashboard(c, 3, today=date(2026, 11, 2), time_zone="America/New_York"))
    assert per_day(autumn) == {"2026-11-01": 1, "2026-11-02": 1}


def test_a_zone_half_an_hour_off_utc(log: Store) -> None:
    # Kolkata is UTC+5:30: its midnight is 18:30 UTC, inside a UTC hour (counted per minute then)
    seed(log, [at(2026, 11, 19, 18, 15), at(2026, 11, 19, 18, 45)])
    d = log.read(lambda c: query.dashboard(c, 7, today=date(2026, 11, 20), time_zone="Asia/Kolkata"))
    assert per_day(d) == {"2026-11-19": 1, "2026-11-20": 1}


async def test_the_console_counts_the_districts_days(make_client: Any, store: Store, policy: Any) -> None:
    tz = ZoneInfo(policy.district.time_zone)
    assert str(tz) == "America/New_York"
    today = datetime.now(tz).date()
    midnight = datetime.combine(today, datetime.min.time(), tzinfo=tz).timestamp()
    seed(store, [midnight - 1800, midnight + 1800])  # 23:30 yesterday and 00:30 today, New York time
    c = await make_client()
    assert (await login(c, "rita")).status == 303
    html = await (await c.get("/dashboard?days=7")).text()
    days = dict(re.findall(r"<title>(\d{4}-\d\d-\d\d) · conduct: (\d+)</title>", html))
    yesterday = (today - timedelta(days=1)).isoformat()
    assert int(days[yesterday]) >= 1 and int(days[today.isoformat()]) >= 1
    assert f"since {(today - timedelta(days=6)).isoformat()} (America/New_York)" in html
    # the seeded log's own conduct finding (console_helpers.seed) is days old: these two are the only ones
    assert int(days[yesterday]) + int(days[today.isoformat()]) == 2
