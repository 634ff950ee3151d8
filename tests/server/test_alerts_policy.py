"""alerts.toml: the shipped file parses; every malformed entry is refused with the file, key and value."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from checker.errors import PolicyError
from server.alerts_policy import load_alerts, parse_alerts

ROUTE = {"name": "r", "email": ["it-desk@region14.example"]}  # fictional address


def test_the_shipped_routes(policy: Any) -> None:
    alerts = load_alerts(policy)
    by = {r.name: r for r in alerts.routes}
    assert alerts.console_base_url == "https://postguard.region14.example"
    assert by["threats"].mode == "immediate" and "threat" in by["threats"].categories
    assert by["student-data-blocked"].actions == {"blocked"}
    assert by["daily-review"].mode == "digest" and by["daily-review"].every == 86400
    assert alerts.link("abc") == "https://postguard.region14.example/events/abc"


@pytest.mark.parametrize(("kind", "findings", "routes"), [
    ("warned", [("conduct", "threat", "urgent")], {"threats", "daily-review"}),
    ("blocked", [("conduct", "insult", "low")], {"daily-review"}),
    ("blocked", [("student-privacy", "health", "high")], {"student-data-blocked", "daily-review"}),
    ("warned", [("student-privacy", "health", "high")], {"daily-review"}),
    ("escalated", [("missing-disclaimer", None, "low")], {"escalated", "daily-review"}),
    ("passed", [], set()),  # nothing found: no alert
])
def test_which_routes_an_event_takes(policy: Any, kind: str, findings: list[Any], routes: set[str]) -> None:
    assert {r.name for r in load_alerts(policy).routes if r.matches(kind, findings)} == routes


def test_criteria_hold_for_one_finding(policy: Any) -> None:
    (r,) = parse_alerts({"console_base_url": "https://c.region14.example",
                         "route": [{**ROUTE, "rules": ["conduct"], "severity": ["urgent"]}]}, policy).routes
    assert r.matches("warned", [("conduct", "threat", "urgent")])
    assert not r.matches("warned", [("conduct", "insult", "low"), ("student-privacy", "health", "urgent")])


def test_no_file_no_routes(policy: Any, tmp_path: Path) -> None:
    assert load_alerts(policy, None).routes  # the shipped folder has one
    with pytest.raises(PolicyError, match="no such file"):
        load_alerts(policy, tmp_path / "absent.toml")


BAD = [
    ({"route": [ROUTE]}, "console_base_url: missing"),
    ({"colour": 1}, "colour: unknown key"),
    ({"route": [{**ROUTE, "rules": ["conduct", "gossip"]}]}, "route[0].rules: unknown value"),
    ({"route": [{**ROUTE, "categories": ["threats"]}]}, "route[0].categories: unknown value"),
    ({"route": [{**ROUTE, "severity": ["critical"]}]}, "route[0].severity: unknown value"),
    ({"route": [{**ROUTE, "actions": ["deleted"]}]}, "route[0].actions: unknown value"),
    ({"route": [{**ROUTE, "email": ["not-an-address"]}]}, "route[0].email: not an e-mail address"),
    ({"route": [{**ROUTE, "email": ["a@b.example\r\nBcc: x@y.example"]}]}, "route[0].email: not an e-mail"),
    ({"route": [{**ROUTE, "webhook": ["http://tickets.region14.example/h"]}]}, "route[0].webhook: must be https"),
    ({"route": [{**ROUTE, "webhook": ["https://u:p@tickets.region14.example/h"]}]},
     "route[0].webhook: must be an http(s) URL with a host and no user name"),
    ({"route": [{**ROUTE, "webhook": ["ftp://tickets.region14.example/h"]}]}, "route[0].webhook: must be an http"),
    ({"route": [{"name": "r"}]}, "route[0]: names no e-mail address and no webhook URL"),
    ({"route": [{**ROUTE, "mode": "weekly"}]}, "route[0].mode: must be one of"),
    ({"route": [{**ROUTE, "every": "1h"}]}, "route[0].every: only for mode"),
    ({"route": [{**ROUTE, "mode": "digest", "every": "soon"}]}, "route[0].every: must be seconds or a duration"),
    ({"route": [{**ROUTE, "mode": "digest", "every": "30d"}]}, "route[0].every: must be from 1 second to 7 days"),
    ({"route": [{**ROUTE, "name": "Has Spaces"}]}, "route[0].name: required"),
    ({"route": [ROUTE, ROUTE]}, "route.name: must be unique"),
    ({"route": [{**ROUTE, "to": ["x"]}]}, "route[0].to: unknown key"),
    ({"route": {"name": "r"}}, "route: must be an array of tables"),
    ({"digest": {"every": "1h", "at": "09:00"}}, "digest: must be a table with only 'every'"),
]


@pytest.mark.parametrize(("raw", "error"), BAD)
def test_bad_files_are_refused_clearly(policy: Any, raw: dict[str, Any], error: str) -> None:
    base = {} if "route" not in raw or "console_base_url: missing" in error else \
        {"console_base_url": "https://c.region14.example"}
    with pytest.raises(PolicyError) as e:
        parse_alerts({**base, **raw}, policy)
    assert str(e.value).startswith(f"alerts.toml: {error}"), e.value


def test_the_error_shows_the_bad_value(policy: Any) -> None:
    with pytest.raises(PolicyError, match="got 'gossip'"):
        parse_alerts({"console_base_url": "https://c.region14.example",
                      "route": [{**ROUTE, "rules": ["gossip"]}]}, policy)


def test_a_broken_toml_file_is_refused(policy: Any, tmp_path: Path) -> None:
    p = tmp_path / "alerts.toml"
    p.write_text("[[route]\nname = 1", encoding="utf-8")
    with pytest.raises(PolicyError, match="^alerts.toml: -: invalid TOML"):
        load_alerts(policy, p)
    p.write_bytes(b"name = '\xff'")
    with pytest.raises(PolicyError, match="not UTF-8"):
        load_alerts(policy, p)
