"""Load a policy folder (`policies/<slug>/`), validate every value, and fingerprint it.

Errors name the file, the key and the bad value, and never quote the roster.
"""

from __future__ import annotations

import datetime as dt
import gc
import hashlib
import re
import tomllib
import zoneinfo
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from checker.categories import SEVERITIES, parse_categories, severity_of
from checker.district import District, SponsoredSite
from checker.errors import PolicyError
from checker.errors import field_error as _err
from checker.links import LinkClassifier, split_url
from checker.policy_data import PolicyData
from checker.policy_rules import rule_configs
from checker.roster import parse_roster
from checker.rule import Rule
from checker.settings import Settings, SettingsError

if TYPE_CHECKING:
    from checker.judgment import Judgment

DEFAULT_POLICY_DIR = Path(__file__).resolve().parent.parent / "policies" / "region14"
MAX_POLICY_FILE = 20 * 1024 * 1024


__all__ = [
    "DEFAULT_POLICY_DIR", "SEVERITIES", "District", "Policy", "PolicyData", "PolicyError", "SponsoredSite",
    "load_policy", "severity_of",
]


@dataclass
class Policy:
    """A loaded policy: its data, its digest and the rules built from it."""

    data: PolicyData
    rules: list[Rule] = field(default_factory=list)
    judgment: Judgment | None = None  # rules.toml [judgment]: heads per rule over the encoder
    # categories.toml: rule id -> {category: severity}, for every category the file lists
    severities: dict[str, dict[str, str]] = field(default_factory=dict)

    @property
    def digest(self) -> str:
        """Short fingerprint of every file in the policy folder (which version decided)."""
        return self.data.digest

    @property
    def district(self) -> District:
        """The district section."""
        return self.data.district

    @property
    def settings(self) -> Settings:
        """The `[settings]` table of rules.toml (content mode, retention, fail mode...)."""
        return self.data.settings

    def rule(self, rule_id: str) -> Rule:
        """The loaded rule with this id."""
        for r in self.rules:
            if r.id == rule_id:
                return r
        raise KeyError(rule_id)


def _read(path: Path, name: str, *, required: bool = True) -> bytes | None:
    p = path / name
    if not p.exists():
        if required:
            raise _err(name, "-", f"missing file in policy folder {path}")
        return None
    if p.stat().st_size > MAX_POLICY_FILE:
        raise _err(name, "-", f"file larger than {MAX_POLICY_FILE} bytes")
    return p.read_bytes()


def _toml(path: Path, name: str, raw: bytes) -> dict[str, Any]:
    try:
        return tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as e:
        raise _err(name, "-", f"not UTF-8 text at byte {e.start}") from None
    except tomllib.TOMLDecodeError as e:
        raise _err(name, "-", f"invalid TOML: {e}") from None


def _strs(file: str, table: dict[str, Any], key: str, *, required: bool = True) -> tuple[str, ...]:
    if key not in table:
        if required:
            raise _err(file, key, "missing")
        return ()
    v = table[key]
    if not isinstance(v, list) or not all(isinstance(s, str) and s.strip() for s in v):
        raise _err(file, key, "must be a list of non-empty strings", v)
    return tuple(s.strip() for s in v)


def _str(file: str, table: dict[str, Any], key: str, default: str | None = None) -> str:
    v = table.get(key, default)
    if not isinstance(v, str) or not v.strip():
        raise _err(file, key, "must be a non-empty string", v)
    return v.strip()


def _parse_district(raw: dict[str, Any]) -> District:
    f = "district.toml"
    sponsored = []
    entries = raw.get("sponsored", [])
    if not isinstance(entries, list):
        raise _err(f, "sponsored", "must be an array of tables ([[sponsored]])", entries)
    for i, e in enumerate(entries):
        key = f"sponsored[{i}]"
        if not isinstance(e, dict):
            raise _err(f, key, "must be a table", e)
        url = _str(f, e, "url") if "url" in e else None
        if url is None:
            raise _err(f, f"{key}.url", "missing")
        host, path = split_url(url)
        if not host:
            raise _err(f, f"{key}.url", "not a URL with a host", url)
        approved_on = e.get("approved_on")
        if not isinstance(approved_on, dt.date):
            raise _err(f, f"{key}.approved_on", "must be a date (YYYY-MM-DD)", approved_on)
        for b in ("closed", "members_can_post"):
            if b in e and not isinstance(e[b], bool):
                raise _err(f, f"{key}.{b}", "must be true or false", e[b])
        sponsored.append(SponsoredSite(
            url=url, host=host, path=path,
            ids=_strs(f, e, "ids", required=False),
            owner=_str(f, e, "owner"),
            approved_by=_str(f, e, "approved_by"),
            approved_on=approved_on,
            request_form=_str(f, e, "request_form"),
            kind=e.get("kind", "page"),
            closed=e.get("closed"),
            members_can_post=e.get("members_can_post"),
        ))
    websites = _strs(f, raw, "websites")
    for w in websites:
        if "/" in w or " " in w or "." not in w:
            raise _err(f, "websites", "each entry must be a domain or host name", w)
    name = _str(f, raw, "name")
    tz = _str(f, raw, "time_zone", "UTC")
    try:
        zoneinfo.ZoneInfo(tz)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        raise _err(f, "time_zone", 'must be an IANA time zone name such as "America/New_York"', tz) from None
    return District(
        name=name,
        aliases=_strs(f, raw, "aliases"),
        board=_strs(f, raw, "board"),
        schools=_strs(f, raw, "schools"),
        short_names=_strs(f, raw, "short_names", required=False),
        teams=_strs(f, raw, "teams"),
        programs=_strs(f, raw, "programs"),
        websites=tuple(w.lower() for w in websites),
        disclaimer_fix=_str(
            f, raw, "disclaimer_fix",
            f"The views expressed here are my own and do not represent the views of {name}.",
        ),
        sponsored=tuple(sponsored),
        time_zone=tz,
    )


def _parse_lexicons(path: Path, files: dict[str, bytes]) -> dict[str, tuple[str, ...]]:
    out: dict[str, tuple[str, ...]] = {}
    lex = path / "lexicons"
    if not lex.is_dir():
        return out
    for p in sorted(lex.glob("*.txt")):
        raw = _read(lex, p.name)
        assert raw is not None
        files[f"lexicons/{p.name}"] = raw
        try:
            lines = raw.decode("utf-8").splitlines()
        except UnicodeDecodeError as e:
            raise _err(f"lexicons/{p.name}", "-", f"not UTF-8 text at byte {e.start}") from None
        out[p.stem] = tuple(
            s.strip() for s in lines if s.strip() and not s.lstrip().startswith("#")
        )
    return out


def _settings(raw: dict[str, Any]) -> Settings:
    try:
        return Settings.from_table(raw.get("settings", {}))
    except SettingsError as e:
        raise _err("rules.toml", e.key, str(e), e.value) from None


def _read_logos(path: Path, files: dict[str, bytes]) -> dict[str, bytes]:
    """The images in `logos/` (each also added to `files`, so the digest covers it)."""
    logos: dict[str, bytes] = {}
    logo_dir = path / "logos"
    if logo_dir.is_dir():
        for p in sorted(logo_dir.iterdir()):
            if p.suffix.lower() in (".png", ".jpg", ".jpeg", ".gif", ".webp", ".bmp"):
                raw = _read(logo_dir, p.name)
                assert raw is not None
                logos[p.name] = raw
                files[f"logos/{p.name}"] = raw
    return logos


def _parse_categories(path: Path, files: dict[str, bytes]) -> tuple[dict[str, dict[str, str]], dict[str, dict[str, str]]]:
    """categories.toml (optional): per rule id, its sub-categories in order -> finding phrase,
    and -> severity (`checker.categories`)."""
    raw = _read(path, "categories.toml", required=False)
    if raw is None:
        return {}, {}
    files["categories.toml"] = raw
    return parse_categories(_toml(path, "categories.toml", raw))


def _with_rules(policy: Policy, rules_raw: dict[str, Any], clauses: dict[str, str], checks: bool) -> Policy:
    """Validate every rule's settings and the clauses they cite; build the rules when `checks`."""
    # Imported here, not at the top: the rule modules bring numpy and the models' code, which a
    # process that imports `checker` without loading a policy need not pay for.
    from checker.rules import rule_classes

    registry = rule_classes()
    configs = rule_configs(rules_raw, registry)
    # Only the clauses that rules cite need text (clauses.toml may hold the whole policy).
    for rid, cfg in sorted(configs.items()):
        for c in (*cfg.clauses.values(), *cfg.cited.values()):
            if c not in clauses:
                raise _err("clauses.toml", f"clauses.{c}", f"missing clause text (cited by rules.{rid})")
    unknown = set(policy.data.categories) - set(registry)
    if unknown:
        raise _err("categories.toml", sorted(unknown)[0], "no rule has this id")
    jt = rules_raw.get("judgment", {})
    if not isinstance(jt, dict) or set(jt) - {"model"} or not isinstance(jt.get("model", ""), str):
        raise _err("rules.toml", "judgment", 'must be a table with model = "<name>" ("" = off)', jt)
    if checks and jt.get("model"):
        from checker.judgment import load_judgment

        try:
            policy.judgment = load_judgment(jt["model"])
        except ValueError as e:
            raise _err("rules.toml", "judgment.model", str(e)) from None
    for rid, cls in sorted(registry.items()) if checks else ():
        cfg = configs[rid]
        try:
            policy.rules.append(cls(policy.data, cfg))
        except PolicyError:
            raise
        except (ValueError, KeyError, TypeError, re.error) as e:
            raise _err("rules.toml", f"rules.{rid}", f"invalid setting: {e}") from None
    return policy


def load_policy(path: str | Path | None = None, *, checks: bool = True) -> Policy:
    """Load and validate a policy folder; raise PolicyError with file, key and value.

    `checks=False`: validate every file and rule setting but build no rule (no models, no word
    automata): a policy for a process that routes, answers and redacts while others check."""
    path = Path(path) if path is not None else DEFAULT_POLICY_DIR
    if not path.is_dir():
        raise PolicyError(f"{path}: policy folder not found")
    files: dict[str, bytes] = {}
    for name in ("district.toml", "rules.toml", "clauses.toml", "students.csv", "social.toml"):
        raw = _read(path, name)
        assert raw is not None
        files[name] = raw
    district = _parse_district(_toml(path, "district.toml", files["district.toml"]))
    rules_raw = _toml(path, "rules.toml", files["rules.toml"])
    clauses_raw = _toml(path, "clauses.toml", files["clauses.toml"])
    social = _toml(path, "social.toml", files["social.toml"])
    clauses = clauses_raw.get("clauses")
    if not isinstance(clauses, dict) or not all(isinstance(v, str) for v in clauses.values()):
        raise _err("clauses.toml", "clauses", "must be a table of clause id = text")
    social = {**social, "hosts": _strs("social.toml", social, "hosts")}
    notice = clauses_raw.get("notice", {}).get("monitoring", "")
    lexicons = _parse_lexicons(path, files)
    logos = _read_logos(path, files)
    categories, severities = _parse_categories(path, files)
    h = hashlib.sha256()
    for name in sorted(files):
        h.update(name.encode() + b"\0" + hashlib.sha256(files[name]).digest())
    data = PolicyData(
        path=path, slug=path.name, district=district, roster=parse_roster(files["students.csv"]),
        clauses=clauses, notice=notice, settings=_settings(rules_raw), lexicons=lexicons,
        social=social, logos=logos, links=LinkClassifier(district, social), digest=h.hexdigest()[:16],
        categories=categories,
    )
    policy = _with_rules(Policy(data=data, severities=severities), rules_raw, clauses, checks)
    # A policy lives as long as the process: its hundreds of thousands of objects (model
    # vocabularies, the roster automaton) need never be scanned by the cyclic GC again, which
    # otherwise shows up as 10-40 ms pauses in the middle of a check.
    gc.collect()
    gc.freeze()
    return policy
