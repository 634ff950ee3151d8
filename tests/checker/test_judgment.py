"""The judgment heads (checker/judgment.py): a rule the rule layer left unfired fires from its
head at the dev-chosen threshold, with the most probable category; a `confirm` rule's own
finding is dropped when its head disagrees; gates keep the heads off what they cannot see."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from checker import Post, check, load_policy
from checker.errors import PolicyError
from checker.judgment import Judgment

ROOT = Path(__file__).resolve().parents[2]
SPONSORED = "https://www.facebook.com/NonnewaugAthletics"


@pytest.fixture()
def policy():
    return load_policy()


@pytest.fixture()
def fake(policy, monkeypatch):
    """Make the judgment heads return fixed probabilities (all others 0)."""
    j = policy.judgment
    assert isinstance(j, Judgment)

    def set_probs(**probs: float) -> None:
        table = {h: 0.0 for h in j.heads}
        table.update({k.replace("__", "/").replace("_", "-"): v for k, v in probs.items()})
        monkeypatch.setattr(j, "probs", lambda folded: table)
    return set_probs


def test_the_shipped_heads_cover_every_judged_rule_and_its_categories(policy):
    j = policy.judgment
    assert j is not None and j.thresholds
    for rule in j.thresholds:
        cats = policy.data.categories[rule]
        assert rule in j.index and all(f"{rule}/{c}" in j.index for c in cats)


def test_a_head_fires_its_rule_with_the_most_probable_category(policy, fake, monkeypatch):
    monkeypatch.setitem(policy.judgment.thresholds, "conduct", 0.5)
    fake(conduct=0.9, conduct__veiled_threat=0.8, conduct__insult=0.3)
    v = check(Post(text="Nice car you have there. Shame if something happened to it.", account="personal"), policy)
    f = [f for f in v.findings if f.rule == "conduct"]
    assert [(x.category, x.what) for x in f] == [("veiled-threat", "a veiled threat")]
    assert f[0].message.startswith("A veiled threat. ") and f[0].clause == "P9"
    fake(conduct=0.4, conduct__veiled_threat=0.8)
    assert "conduct" not in check(Post(text="Nice car you have there.", account="personal"), policy).fired


def test_confirm_drops_a_rule_layer_finding_the_head_disagrees_with(policy, fake, monkeypatch):
    text = "Proud to start my new job at Nonnewaug High School today!"
    monkeypatch.setitem(policy.judgment.confirm, "missing-disclaimer", 0.2)
    fake(missing_disclaimer=0.05)
    assert "missing-disclaimer" not in check(Post(text=text, account="personal"), policy).fired
    fake(missing_disclaimer=0.6)
    assert "missing-disclaimer" in check(Post(text=text, account="personal"), policy).fired


def test_gates(policy, fake, monkeypatch):
    for rule in ("personal-link", "missing-disclaimer"):
        monkeypatch.setitem(policy.judgment.thresholds, rule, 0.5)
    fake(personal_link=0.99, missing_disclaimer=0.99, directory_opt_out=0.99)
    # no link or handle: the heads cannot find a personal link
    v = check(Post(text="Great season everyone", account="sponsored", target=SPONSORED), policy)
    assert "personal-link" not in v.fired and "directory-opt-out" not in v.fired
    # a disclaimer is there: never missing
    v = check(Post(text="Our district is wonderful. Views are my own, not the district's.", account="personal"), policy)
    assert "missing-disclaimer" not in v.fired


def test_a_bad_judgment_table_is_a_policy_error(tmp_path):
    dst = tmp_path / "p"
    shutil.copytree(ROOT / "policies" / "region14", dst)
    rules = (dst / "rules.toml").read_text(encoding="utf-8")
    (dst / "rules.toml").write_text(rules.replace('[judgment]\nmodel = "judgment"', '[judgment]\nmodel = "nope"'),
                                    encoding="utf-8")
    with pytest.raises(PolicyError, match="judgment"):
        load_policy(dst)
    (dst / "rules.toml").write_text(rules.replace('[judgment]\nmodel = "judgment"', '[judgment]\nmodel = ""'),
                                    encoding="utf-8")
    assert load_policy(dst).judgment is None


def test_a_student_id_the_heads_see_must_match_the_policy_id_pattern(policy, fake, monkeypatch):
    monkeypatch.setitem(policy.judgment.thresholds, "student-privacy", 0.5)
    fake(student_privacy=0.95, student_privacy__student_id=0.9)
    text = "You are all stars, see you Monday (f7620f14)"
    assert "student-privacy" not in check(Post(text=text, account="personal"), policy).fired
    v = check(Post(text="Locker combo for S100003 is on the board", account="personal"), policy)
    assert "student-privacy" in v.fired
