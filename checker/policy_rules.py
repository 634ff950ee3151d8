"""The `[rules.<id>]` tables of rules.toml: each rule's actions, clauses, message, fix and parameters."""

from __future__ import annotations

from typing import Any, cast

from checker.errors import field_error as _err
from checker.model import ACCOUNTS, ACTION_RANK, Account, Action
from checker.rule import Rule, RuleConfig


def rule_configs(raw: dict[str, Any], rules: dict[str, type[Rule]]) -> dict[str, RuleConfig]:
    f = "rules.toml"
    table = raw.get("rules", {})
    if not isinstance(table, dict):
        raise _err(f, "rules", "must be a table", table)
    unknown = set(table) - set(rules)
    if unknown:
        raise _err(f, f"rules.{sorted(unknown)[0]}", f"unknown rule id; known: {', '.join(sorted(rules))}")
    out = {}
    for rid, cls in rules.items():
        sec = table.get(rid, {"action": "off"})
        key = f"rules.{rid}"
        if not isinstance(sec, dict):
            raise _err(f, key, "must be a table", sec)
        act = sec.get("action", "warn")
        if isinstance(act, str):
            given: dict[Account, Any] = {a: act for a in ACCOUNTS}
        elif isinstance(act, dict):
            given = {a: act.get(a, "off") for a in ACCOUNTS}
            extra = set(act) - set(ACCOUNTS)
            if extra:
                raise _err(f, f"{key}.action", f"keys must be {'/'.join(ACCOUNTS)}", sorted(extra)[0])
        else:
            raise _err(f, f"{key}.action", f"must be {'/'.join(ACTION_RANK)} or a table per account", act)
        for a, v in given.items():
            if v not in ACTION_RANK:
                raise _err(f, f"{key}.action.{a}" if isinstance(act, dict) else f"{key}.action",
                           f"must be one of {', '.join(ACTION_RANK)}", v)
        actions = {a: cast(Action, v) if a in cls.applies_to else "off" for a, v in given.items()}
        message = sec.get("message", "")
        if not isinstance(message, str) or (not message.strip() and any(v != "off" for v in actions.values())):
            raise _err(f, f"{key}.message", "must be a non-empty string", message)
        fix = sec.get("fix")
        if fix is not None and not isinstance(fix, str):
            raise _err(f, f"{key}.fix", "must be a string", fix)
        clauses, cited = _rule_clauses(key, sec.get("clauses", {}), cls, actions)
        params = dict(cls.defaults)
        for k, v in sec.items():
            if k in ("action", "message", "fix", "clauses"):
                continue
            if k not in cls.defaults:
                raise _err(f, f"{key}.{k}", f"unknown setting; known: {', '.join(sorted(cls.defaults)) or 'none'}")
            want = type(cls.defaults[k])
            ok = isinstance(v, want) or (want is float and isinstance(v, int) and not isinstance(v, bool))
            if want is list:
                ok = isinstance(v, list) and all(isinstance(x, str) for x in v)
            elif want is dict:
                ok = isinstance(v, dict) and all(  # name -> [regex...] or name -> name
                    isinstance(x, str) or (isinstance(x, list) and all(isinstance(y, str) for y in x))
                    for x in v.values()
                )
            if not ok or isinstance(v, bool) != isinstance(cls.defaults[k], bool):
                raise _err(f, f"{key}.{k}", f"must be of type {want.__name__}", v)
            params[k] = float(v) if want is float else v
        out[rid] = RuleConfig(actions=actions, message=message.strip(), fix=fix, params=params,
                              clauses=clauses, cited=cited)
    return out


def _rule_clauses(key: str, table: Any, cls: type[Rule],
                  actions: dict[Account, Action]) -> tuple[dict[Account, str], dict[str, str]]:
    """A rule's `clauses` table: the clause id it cites per account kind, and per name in `cites`.

    A clause is required for every account kind the rule acts on, and for each of `cites` when
    it acts at all."""
    f = "rules.toml"
    if not isinstance(table, dict) or not all(isinstance(v, str) and v.strip() for v in table.values()):
        raise _err(f, f"{key}.clauses", "must be a table of account kind (or citation) = clause id", table)
    known = (*cls.applies_to, *cls.cites)
    extra = sorted(set(table) - set(known))
    if extra:
        raise _err(f, f"{key}.clauses.{extra[0]}", f"not a clause this rule cites; it cites {', '.join(known)}")
    on = [a for a in ACCOUNTS if actions[a] != "off"]
    need = [*on, *cls.cites] if on else []
    missing = [n for n in need if n not in table]
    if missing:
        raise _err(f, f"{key}.clauses.{missing[0]}", "missing: the id of the clause in clauses.toml it cites")
    clauses = {a: table[a].strip() for a in ACCOUNTS if a in table}
    cited = {n: table[n].strip() for n in cls.cites if n in table}
    return clauses, cited
