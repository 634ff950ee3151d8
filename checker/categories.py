"""categories.toml: each rule's sub-categories, most specific first, with the phrase a finding
uses and how urgent such a finding is for the district's reviewers (its severity).

An entry is `category = "phrase"` (severity "normal") or
`category = { phrase = "...", severity = "urgent" | "high" | "normal" | "low" }`.
"""

from __future__ import annotations

from typing import Any, Protocol

from checker.errors import field_error as _err


class Policy(Protocol):
    """What severity_of reads of a `checker.Policy`."""

    severities: dict[str, dict[str, str]]

# Most urgent first. The console sorts and filters by these; alerts (server/alerts.py) read them.
SEVERITIES = ("urgent", "high", "normal", "low")
DEFAULT_SEVERITY = "normal"
FILE = "categories.toml"


def parse_categories(doc: dict[str, Any]) -> tuple[dict[str, dict[str, str]], dict[str, dict[str, str]]]:
    """(rule id -> {category: phrase}, rule id -> {category: severity}), in the file's order."""
    phrases: dict[str, dict[str, str]] = {}
    levels: dict[str, dict[str, str]] = {}
    for rid, table in doc.items():
        if not isinstance(table, dict) or not table:
            raise _err(FILE, rid, "must be a non-empty table of category = phrase", table)
        phrases[rid], levels[rid] = {}, {}
        for cat, entry in table.items():
            phrases[rid][cat], levels[rid][cat] = _entry(f"{rid}.{cat}", entry)
    return phrases, levels


def _entry(key: str, entry: Any) -> tuple[str, str]:
    """(phrase, severity) of one entry."""
    if isinstance(entry, str):
        entry = {"phrase": entry}
    if not isinstance(entry, dict):
        raise _err(FILE, key, 'must be a phrase or { phrase = "...", severity = "..." }', entry)
    extra = sorted(set(entry) - {"phrase", "severity"})
    if extra:
        raise _err(FILE, f"{key}.{extra[0]}", "unknown key (phrase, severity)")
    phrase = entry.get("phrase")
    if not isinstance(phrase, str) or not phrase.strip():
        raise _err(FILE, f"{key}.phrase" if "phrase" in entry else key, "must be a non-empty phrase", phrase)
    level = entry.get("severity", DEFAULT_SEVERITY)
    if level not in SEVERITIES:
        raise _err(FILE, f"{key}.severity", f"must be one of {', '.join(SEVERITIES)}", level)
    return phrase, level


def severity_of(policy: Policy, rule: str, category: str | None) -> str:
    """How urgent a finding of `rule` in `category` is under this policy: one of SEVERITIES.

    A category the policy does not list for the rule (or none) takes the rule's most urgent
    level, so nothing is ranked below what it might be; a rule without categories (a
    district's own) is "normal"."""
    levels = policy.severities.get(rule)
    if not levels:
        return DEFAULT_SEVERITY
    if category in levels:
        return levels[category]
    return min(levels.values(), key=SEVERITIES.index)


def severity_table(policy: Policy) -> dict[tuple[str, str], str]:
    """Every (rule, category) the policy lists -> its severity, and (rule, "") -> what a finding
    of the rule without a listed category gets: what the log ranks incidents by
    (`store.incidents.configure`), which never reads a policy itself."""
    table = {(rid, cat): lv for rid, cats in policy.severities.items() for cat, lv in cats.items()}
    return {**table, **{(rid, ""): severity_of(policy, rid, None) for rid in policy.severities}}
