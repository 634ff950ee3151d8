"""Which rules exist (BUILTIN_RULES and `postguard.rules` entry points) and which clauses they cite."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import shutil
import sys
from importlib.metadata import EntryPoint
from pathlib import Path

import pytest

import checker.rules
from checker import PolicyError, Post, check, load_policy
from checker.policy import DEFAULT_POLICY_DIR
from checker.rule import Rule
from checker.rules import BUILTIN_RULES, ENTRY_POINT_GROUP, rule_classes

DISTRICT_RULE = '''
from checker.rule import Rule


class NoCats(Rule):
    id = "no-cats"
    applies_to = ("personal",)
    defaults = {"word": "cat"}

    def check(self, post, ctx):
        if self.params["word"] in ctx.folded.text:
            return [self.finding(ctx, "mentions a cat", 0.9)]
        return []


class NotARule:
    id = "not-a-rule"


class Conduct(Rule):
    id = "conduct"
'''


@pytest.fixture()
def pdir(tmp_path: Path) -> Path:
    d = tmp_path / "pol"
    shutil.copytree(DEFAULT_POLICY_DIR, d)
    return d


@pytest.fixture()
def district_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    (tmp_path / "district_rules_for_test.py").write_text(DISTRICT_RULE, encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "district_rules_for_test", raising=False)
    return "district_rules_for_test"


def use_entry_points(monkeypatch: pytest.MonkeyPatch, *values: str) -> None:
    eps = [EntryPoint(name=f"ep{i}", value=v, group=ENTRY_POINT_GROUP) for i, v in enumerate(values)]
    monkeypatch.setattr(checker.rules, "entry_points", lambda group: eps if group == ENTRY_POINT_GROUP else [])


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, old
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def test_every_rule_class_in_the_package_is_listed():
    defined = set()
    for mod in pkgutil.iter_modules(checker.rules.__path__):
        m = importlib.import_module(f"checker.rules.{mod.name}")
        defined |= {c for _, c in inspect.getmembers(m, inspect.isclass)
                    if issubclass(c, Rule) and c is not Rule and c.__module__ == m.__name__}
    assert defined == set(BUILTIN_RULES)
    assert len({c.id for c in BUILTIN_RULES}) == len(BUILTIN_RULES)


def test_clauses_come_from_rules_toml():
    p = load_policy()
    cites = {r.id: dict(r.config.clauses) for r in p.rules}
    assert cites["conduct"] == {"personal": "P9", "sponsored": "D4"}
    assert cites["prohibited-purpose"] == {"sponsored": "D9"}
    assert p.rule("unapproved-site").config.cited == {"group_setup": "D3"}
    v = check(Post(text="you are an idiot", account="personal"), p)
    assert [f.clause for f in v.findings if f.rule == "conduct"] == ["P9"]


def test_a_district_rule_from_an_entry_point(pdir, district_module, monkeypatch):
    use_entry_points(monkeypatch, f"{district_module}:NoCats")
    assert rule_classes()["no-cats"].__name__ == "NoCats"
    with open(pdir / "rules.toml", "a", encoding="utf-8") as f:
        f.write('\n[rules.no-cats]\nclauses = { personal = "P9" }\naction = "warn"\n'
                'message = "No cats."\nword = "kitten"\n')
    policy = load_policy(pdir)
    v = check(Post(text="look at my kitten", account="personal"), policy)
    assert [(f.rule, f.clause, f.action) for f in v.findings] == [("no-cats", "P9", "warn")]


@pytest.mark.parametrize("target,expect", [
    ("district_rules_for_test:Missing", "entry point ep0 = 'district_rules_for_test:Missing' (group postguard.rules): cannot be loaded: AttributeError"),
    ("no_such_module_anywhere:Rule", "cannot be loaded: ModuleNotFoundError"),
    ("district_rules_for_test:NotARule", "must name a subclass of checker.rules.Rule"),
    ("district_rules_for_test:Conduct", "the rule id 'conduct' is already taken by a built-in rule"),
])
def test_a_bad_entry_point_is_a_policy_error(district_module, monkeypatch, target, expect):
    use_entry_points(monkeypatch, target)
    with pytest.raises(PolicyError) as e:
        load_policy()
    assert expect in str(e.value)


def test_two_entry_points_cannot_share_an_id(district_module, monkeypatch):
    use_entry_points(monkeypatch, f"{district_module}:NoCats", f"{district_module}:NoCats")
    assert "no-cats" in rule_classes()  # the same class twice is one rule
    (Path(sys.modules[district_module].__file__).parent / "other_rules_for_test.py").write_text(
        DISTRICT_RULE, encoding="utf-8")
    monkeypatch.delitem(sys.modules, "other_rules_for_test", raising=False)
    use_entry_points(monkeypatch, f"{district_module}:NoCats", "other_rules_for_test:NoCats")
    with pytest.raises(PolicyError, match="'no-cats' is already taken by district_rules_for_test.NoCats"):
        rule_classes()


def test_only_cited_clauses_need_text(pdir):
    edit(pdir / "clauses.toml", "D1 = ", "X1 = ")  # no rule cites D1
    assert "D1" not in load_policy(pdir).data.clauses
    edit(pdir / "clauses.toml", "D3 = ", "X3 = ")  # unapproved-site cites it as group_setup
    with pytest.raises(PolicyError, match=r"clauses.toml: clauses.D3: missing clause text \(cited by rules.unapproved-site\)"):
        load_policy(pdir)


@pytest.mark.parametrize("old,new,expect", [
    ('clauses = { personal = "P9", sponsored = "D4" }', 'clauses = { personal = "P9" }',
     "rules.toml: rules.conduct.clauses.sponsored: missing"),
    ('clauses = { sponsored = "D9" }', 'clauses = { sponsored = "D9", personal = "P9" }',
     "rules.toml: rules.prohibited-purpose.clauses.personal: not a clause this rule cites; it cites sponsored"),
    (', group_setup = "D3" }', ' }', "rules.toml: rules.unapproved-site.clauses.group_setup: missing"),
    ('clauses = { sponsored = "D8" }', 'clauses = "D8"', "rules.toml: rules.personal-link.clauses: must be a table"),
])
def test_bad_clauses_are_named(pdir, old, new, expect):
    edit(pdir / "rules.toml", old, new)
    with pytest.raises(PolicyError) as e:
        load_policy(pdir)
    assert expect in str(e.value)


def test_a_rule_that_is_off_needs_no_clause(pdir):
    edit(pdir / "rules.toml", 'clauses = { personal = "P9", sponsored = "D4" }\naction = { personal = "warn", sponsored = "block" }',
         'action = "off"')
    assert load_policy(pdir).rule("conduct").config.clauses == {}
