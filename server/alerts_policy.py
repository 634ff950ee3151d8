"""The policy's alert routes (`alerts.toml` in the policy folder): which kinds of event are told to
which e-mail addresses and webhook URLs, at once or in a digest. Parsed and validated here; every
error names the file, the key and the bad value (a PolicyError, so the server refuses to start)."""

from __future__ import annotations

import ipaddress
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from checker.categories import SEVERITIES
from checker.errors import PolicyError, field_error
from store.event import ACTIONS

if TYPE_CHECKING:
    from checker import Policy

FILE = "alerts.toml"
MODES = ("immediate", "digest")
# What an alert can be about: an event's action as logged, or a reviewer's escalation.
KINDS = (*ACTIONS, "escalated")
MAX_TARGETS = 50
_EMAIL = re.compile(r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
                    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)+$")
_DURATION = re.compile(r"^(\d+)\s*([smhd])$")
_UNIT = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_ROUTE_KEYS = {"name", "severity", "rules", "categories", "actions", "email", "webhook", "mode", "every"}
_TOP_KEYS = {"console_base_url", "digest", "route"}


@dataclass(frozen=True)
class Route:
    """One route: an event matches when every criterion given matches (a list: any of its values);
    `severity`, `rules` and `categories` must hold for one and the same finding."""

    name: str
    severity: frozenset[str] = frozenset()
    rules: frozenset[str] = frozenset()
    categories: frozenset[str] = frozenset()
    actions: frozenset[str] = frozenset()
    email: tuple[str, ...] = ()
    webhook: tuple[str, ...] = ()
    mode: str = "immediate"
    every: int = 3600  # seconds between digests (digest mode)

    def matches(self, kind: str, findings: list[tuple[str, str | None, str | None]]) -> bool:
        """Whether an event of this kind with these (rule, category, severity) findings is routed here."""
        if self.actions and kind not in self.actions:
            return False
        return any((not self.rules or rule in self.rules)
                   and (not self.categories or category in self.categories)
                   and (not self.severity or severity in self.severity)
                   for rule, category, severity in findings)


@dataclass(frozen=True)
class AlertPolicy:
    """Every route of a policy, and where the console's incident pages are."""

    console_base_url: str = ""
    routes: tuple[Route, ...] = ()

    def link(self, uid: str) -> str:
        """The incident's page in the console."""
        return f"{self.console_base_url}/events/{uid}"


def load_alerts(policy: Policy, path: str | Path | None = None) -> AlertPolicy:
    """The routes of `path` (default: the policy folder's alerts.toml); no routes when the
    policy folder has no alerts.toml. PolicyError on anything malformed."""
    p = Path(path) if path is not None else policy.data.path / FILE
    if not p.exists():
        if path is not None:
            raise PolicyError(f"{p.name}: -: no such file ({p})")
        return AlertPolicy()
    try:
        raw = tomllib.loads(p.read_text(encoding="utf-8"))
    except UnicodeDecodeError as e:
        raise field_error(p.name, "-", f"not UTF-8 text at byte {e.start}") from None
    except tomllib.TOMLDecodeError as e:
        raise field_error(p.name, "-", f"invalid TOML: {e}") from None
    return parse_alerts(raw, policy, p.name)


def parse_alerts(raw: dict[str, Any], policy: Policy, file: str = FILE) -> AlertPolicy:
    """Validate a parsed alerts file against the policy's rules and sub-categories."""
    unknown = sorted(set(raw) - _TOP_KEYS)
    if unknown:
        raise field_error(file, unknown[0], f"unknown key (known: {', '.join(sorted(_TOP_KEYS))})")
    digest = raw.get("digest", {})
    if not isinstance(digest, dict) or set(digest) - {"every"}:
        raise field_error(file, "digest", "must be a table with only 'every'", digest)
    default_every = duration(file, "digest.every", digest.get("every", "1h"))
    routes_raw = raw.get("route", [])
    if not isinstance(routes_raw, list):
        raise field_error(file, "route", "must be an array of tables ([[route]])", routes_raw)
    known = _known(policy)
    routes = [_route(file, f"route[{i}]", r, known, default_every) for i, r in enumerate(routes_raw)]
    names = [r.name for r in routes]
    for n in names:
        if names.count(n) > 1:
            raise field_error(file, "route.name", "must be unique", n)
    base = raw.get("console_base_url")
    if routes and base is None:
        raise field_error(file, "console_base_url", "missing (the alerts link to the console's incident page)")
    if base is not None:
        base = _url(file, "console_base_url", base).rstrip("/")
    return AlertPolicy(console_base_url=base or "", routes=tuple(routes))


def _known(policy: Policy) -> dict[str, frozenset[str]]:
    rules = {r.id for r in policy.rules}
    categories = {c for cats in policy.data.categories.values() for c in cats}
    return {"rules": frozenset(rules), "categories": frozenset(categories), "severity": frozenset(SEVERITIES),
            "actions": frozenset(KINDS)}


def _route(file: str, key: str, r: Any, known: dict[str, frozenset[str]], default_every: int) -> Route:
    if not isinstance(r, dict):
        raise field_error(file, key, "must be a table", r)
    unknown = sorted(set(r) - _ROUTE_KEYS)
    if unknown:
        raise field_error(file, f"{key}.{unknown[0]}", f"unknown key (known: {', '.join(sorted(_ROUTE_KEYS))})")
    name = r.get("name")
    if not isinstance(name, str) or not re.fullmatch(r"[a-z0-9][a-z0-9-]{0,62}", name):
        raise field_error(file, f"{key}.name", "required: lower-case letters, digits and '-'", name)
    crit = {k: _choice(file, f"{key}.{k}", r.get(k, []), known[k]) for k in ("severity", "rules", "categories",
                                                                             "actions")}
    email = tuple(_email(file, f"{key}.email", e) for e in _list(file, f"{key}.email", r.get("email", [])))
    hooks = tuple(_url(file, f"{key}.webhook", u) for u in _list(file, f"{key}.webhook", r.get("webhook", [])))
    if not email and not hooks:
        raise field_error(file, key, "names no e-mail address and no webhook URL", name)
    mode = r.get("mode", "immediate")
    if mode not in MODES:
        raise field_error(file, f"{key}.mode", f"must be one of {', '.join(MODES)}", mode)
    if "every" in r and mode != "digest":
        raise field_error(file, f"{key}.every", "only for mode = \"digest\"", r["every"])
    every = duration(file, f"{key}.every", r["every"]) if "every" in r else default_every
    return Route(name=name, email=email, webhook=hooks, mode=mode, every=every, **crit)


def _list(file: str, key: str, v: Any) -> list[str]:
    if isinstance(v, str):
        v = [v]
    if not isinstance(v, list) or not all(isinstance(s, str) and s.strip() for s in v):
        raise field_error(file, key, "must be a list of non-empty strings", v)
    if len(v) > MAX_TARGETS:
        raise field_error(file, key, f"at most {MAX_TARGETS} entries")
    return [s.strip() for s in v]


def _choice(file: str, key: str, v: Any, allowed: frozenset[str]) -> frozenset[str]:
    got = _list(file, key, v)
    for s in got:
        if s not in allowed:
            raise field_error(file, key, f"unknown value (known: {', '.join(sorted(allowed))})", s)
    return frozenset(got)


def _email(file: str, key: str, v: str) -> str:
    if len(v) > 254 or not _EMAIL.match(v):
        raise field_error(file, key, "not an e-mail address (name@domain)", v)
    return v


def _url(file: str, key: str, v: Any) -> str:
    """An http(s) URL with a host and no user info; plain http only to a loopback host."""
    if not isinstance(v, str):
        raise field_error(file, key, "must be a URL", v)
    try:
        p = urlsplit(v)
        host = p.hostname or ""
        p.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError:
        raise field_error(file, key, "not a URL", v) from None
    if p.scheme not in ("http", "https") or not host or p.username or p.password or any(c in v for c in "\r\n "):
        raise field_error(file, key, "must be an http(s) URL with a host and no user name or password", v)
    if p.scheme == "http" and not _loopback(host):
        raise field_error(file, key, "must be https (plain http only to this machine)", v)
    return v


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def duration(file: str, key: str, v: Any) -> int:
    """Seconds from a whole number or text such as "90s", "30m", "1h", "1d" (1 s to 7 days)."""
    if isinstance(v, int) and not isinstance(v, bool):
        secs = v
    elif isinstance(v, str) and (m := _DURATION.match(v.strip())):
        secs = int(m.group(1)) * _UNIT[m.group(2)]
    else:
        raise field_error(file, key, "must be seconds or a duration such as \"30m\", \"1h\", \"1d\"", v)
    if not 1 <= secs <= 7 * 86400:
        raise field_error(file, key, "must be from 1 second to 7 days", v)
    return secs
