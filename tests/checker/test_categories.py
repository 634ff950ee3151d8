"""Every finding names its rule's sub-category (docs/policy-taxonomy.md), in the category field,
the message and the log; categories.toml is the taxonomy's tables, in the same order."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from checker import Post, check, load_policy
from checker.errors import PolicyError
from postguard.commands.eval import run_case

ROOT = Path(__file__).resolve().parents[2]


def taxonomy_tables() -> dict[str, list[tuple[str, str]]]:
    rule, out = None, {}
    for line in (ROOT / "docs" / "policy-taxonomy.md").read_text(encoding="utf-8").splitlines():
        m = re.match(r"## \d+\. `([a-z-]+)`", line)
        if m:
            rule = m.group(1)
            out[rule] = []
            continue
        if line.startswith("## "):
            rule = None
        m = re.match(r'\| \d+ \| `([a-z-]+)` \| .* \| "([^"]+)" \|\s*$', line)
        if m and rule:
            out[rule].append((m.group(1), m.group(2)))
    return out


def test_categories_file_is_the_taxonomy():
    policy = load_policy()
    doc = taxonomy_tables()
    assert set(doc) == {r.id for r in policy.rules}
    assert {rid: list(cats.items()) for rid, cats in policy.data.categories.items()} == doc


@pytest.fixture(scope="module")
def policy():
    return load_policy()


def corpus_findings(policy):
    for path in ("tests/corpus/cases.jsonl", "tests/holdout/cases.jsonl"):
        for line in (ROOT / path).read_text(encoding="utf-8").splitlines():
            case = json.loads(line)
            yield from run_case(case, policy, (ROOT / path).parent)["findings"]


def test_every_finding_names_a_category_of_its_rule(policy):
    findings = list(corpus_findings(policy))
    assert len(findings) > 200
    rules_seen = set()
    for f in findings:
        cats = policy.data.categories[f["rule"]]
        assert f.get("category") in cats, (f["rule"], f.get("category"))
        assert f["what"] == cats[f["category"]]
        assert f["message"].lower().startswith(f["what"].lower() + ". ")
        rules_seen.add(f["rule"])
    assert len(rules_seen) >= 8  # unapproved-site and student-connection: see below


def test_examples_get_the_specific_category(policy):
    sponsored = "https://www.facebook.com/NonnewaugAthletics"
    cases = [
        ("personal", None, "I will kill you tomorrow", "conduct", "threat"),
        ("personal", None, "Mason Brandt failed his chemistry test again", "student-privacy", "academic-standing"),
        ("sponsored", sponsored, "Great game tonight! Mason Brandt scored twice", "directory-opt-out", "athletics"),
        ("sponsored", sponsored, "Congratulations to Mason Brandt, student of the month!", "directory-opt-out",
         "honors-awards"),
    ]
    for account, target, text, rule, cat in cases:
        found = {f.rule: f.category for f in check(Post(text=text, account=account, target=target), policy).findings}
        assert found.get(rule) == cat, (text, found)
    invite = check(Post(text="", account="personal", kind="connection", counterpart="Mason Brandt"), policy)
    assert [(f.rule, f.category, f.what) for f in invite.findings] == [
        ("student-connection", "student", "accepting a connection from a student")]
    parent = check(Post(text="", account="personal", kind="connection", counterpart="Dana Fictional",
                        settings={"relationship": "parent"}), policy)
    assert [f.category for f in parent.findings] == ["parent"]


def test_a_context_category_the_policy_does_not_list_is_a_policy_error(tmp_path):
    src = ROOT / "policies" / "region14"
    dst = tmp_path / "p"
    shutil.copytree(src, dst)
    rules = (dst / "rules.toml").read_text(encoding="utf-8")
    rules = rules.replace("[rules.directory-opt-out.contexts]\n", "[rules.directory-opt-out.contexts]\nprom = ['prom']\n")
    (dst / "rules.toml").write_text(rules, encoding="utf-8")
    with pytest.raises(PolicyError, match="directory-opt-out"):
        load_policy(dst)


def test_categories_name_only_known_rules(tmp_path):
    dst = tmp_path / "p"
    shutil.copytree(ROOT / "policies" / "region14", dst)
    with (dst / "categories.toml").open("a", encoding="utf-8") as fh:
        fh.write('\n[no-such-rule]\nx = "an x"\n')
    with pytest.raises(PolicyError, match="no-such-rule"):
        load_policy(dst)


# -- severity: how urgent each sub-category is for the district's reviewers -----------------------
def test_every_category_has_a_severity_and_the_policy_ranks_as_the_brief_says(policy):
    from checker.policy import SEVERITIES, severity_of

    for rid, cats in policy.data.categories.items():
        assert set(policy.severities[rid]) == set(cats)
        assert set(policy.severities[rid].values()) <= set(SEVERITIES)
    assert severity_of(policy, "conduct", "threat") == "urgent"
    assert severity_of(policy, "conduct", "mass-violence") == "urgent"
    assert severity_of(policy, "student-privacy", "health") == "urgent"
    assert severity_of(policy, "conduct", "insult") == "normal"
    assert severity_of(policy, "missing-disclaimer", "speaking-for") == "low"
    # a category the policy does not list takes the rule's most urgent level; an unknown rule is normal
    assert severity_of(policy, "conduct", None) == "urgent"
    assert severity_of(policy, "conduct", "no-such-category") == "urgent"
    assert severity_of(policy, "missing-disclaimer", None) == "low"
    assert severity_of(policy, "a-district-rule", "x") == "normal"


def _policy_with(tmp_path, categories: str):
    dst = tmp_path / "p"
    shutil.copytree(ROOT / "policies" / "region14", dst)
    (dst / "categories.toml").write_text(categories, encoding="utf-8")
    return dst


def test_the_old_phrase_only_format_still_loads_as_normal(tmp_path):
    from checker.policy import severity_of

    dst = _policy_with(tmp_path, '[conduct]\nthreat = "a threat"\ninsult = { phrase = "an insult", severity = "low" }\n')
    p = load_policy(dst, checks=False)
    assert p.data.categories == {"conduct": {"threat": "a threat", "insult": "an insult"}}
    assert p.severities == {"conduct": {"threat": "normal", "insult": "low"}}
    assert severity_of(p, "conduct", "threat") == "normal"


@pytest.mark.parametrize(("entry", "match"), [
    ('threat = { phrase = "a threat", severity = "critical" }', r"conduct\.threat\.severity.*urgent, high, normal, low"),
    ('threat = { severity = "urgent" }', r"conduct\.threat.*non-empty phrase"),
    ('threat = { phrase = "", severity = "urgent" }', r"conduct\.threat\.phrase.*non-empty phrase"),
    ('threat = { phrase = "a threat", level = "urgent" }', r"conduct\.threat\.level.*unknown key"),
    ("threat = 3", r"conduct\.threat.*phrase or"),
])
def test_a_bad_severity_entry_is_a_clear_policy_error(tmp_path, entry, match):
    dst = _policy_with(tmp_path, f"[conduct]\n{entry}\n")
    with pytest.raises(PolicyError, match=match):
        load_policy(dst, checks=False)
