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
    # a bare reference: whether it reads as official is the head's to say
    text = "Region 14 Board of Education meeting tonight was packed."
    monkeypatch.setitem(policy.judgment.confirm, "missing-disclaimer", 0.2)
    fake(missing_disclaimer=0.05)
    assert "missing-disclaimer" not in check(Post(text=text, account="personal"), policy).fired
    fake(missing_disclaimer=0.6)
    assert "missing-disclaimer" in check(Post(text=text, account="personal"), policy).fired


def test_a_reference_with_what_makes_it_official_needs_no_confirmation(policy, fake, monkeypatch):
    """A school named, or a district page shared, next to a schedule or a result stands on its
    own; a bare share of a district page needs the head (Rule.needs_confirmation)."""
    monkeypatch.setitem(policy.judgment.confirm, "missing-disclaimer", 0.2)
    fake(missing_disclaimer=0.05)
    named = check(Post(text="Nonnewaug Chargers basketball tips off tonight at 7", account="personal"), policy)
    assert [f.category for f in named.findings if f.rule == "missing-disclaimer"] == ["announcement"]
    shared = Post(text="Game time moved to 6pm https://www.facebook.com/NonnewaugAthletics", account="personal")
    assert "missing-disclaimer" in check(shared, policy).fired
    bare = Post(text="Good thread: https://x.com/region14schools", account="personal")
    assert "missing-disclaimer" not in check(bare, policy).fired
    fake(missing_disclaimer=0.6)
    assert "missing-disclaimer" in check(bare, policy).fired


def test_a_text_model_finding_of_prohibited_purpose_needs_the_head_a_pattern_does_not(policy, fake, monkeypatch):
    """An opinion on a public issue reads as advocacy to the text models; the judgment head,
    trained where an opinion is a view and a call to act is D9's, confirms it or not."""
    monkeypatch.setitem(policy.judgment.confirm, "prohibited-purpose", 0.5)
    rule = {r.id: r for r in policy.rules}["prohibited-purpose"]
    opinion = "I feel the budget cuts to the arts are shortsighted and wrong."
    fake(prohibited_purpose=0.1)
    ctx_free = check(Post(text=opinion, account="sponsored", target=SPONSORED), policy)
    assert "prohibited-purpose" not in ctx_free.fired
    fake(prohibited_purpose=0.9)
    got = [f for f in check(Post(text=opinion, account="sponsored", target=SPONSORED), policy).findings
           if f.rule == "prohibited-purpose"]
    assert got and all(rule.needs_confirmation(f) for f in got)
    fake(prohibited_purpose=0.0)  # a pattern's finding stands whatever the head says
    call = check(Post(text="Vote YES on Question 2 this Tuesday!", account="sponsored", target=SPONSORED), policy)
    assert "prohibited-purpose" in call.fired


@pytest.mark.parametrize("text", [
    "Proud to start my new job at Nonnewaug High School today!",   # Decision 44
    "After 31 years at Mitchell Elementary School, I'm retiring in June.",
    "My daughter made the Woodbury Middle School Jazz Band!",
    "I think a later start time would be the best thing Region 14 could do.",  # Decision 46
])
def test_a_personal_mention_is_never_an_official_communication(policy, fake, monkeypatch, text):
    monkeypatch.setitem(policy.judgment.confirm, "missing-disclaimer", 0.2)
    fake(missing_disclaimer=0.99)
    assert "missing-disclaimer" not in check(Post(text=text, account="personal"), policy).fired


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
    (dst / "rules.toml").write_text(rules.replace('[judgment]\nmodel = "joint"', '[judgment]\nmodel = "nope"'),
                                    encoding="utf-8")
    with pytest.raises(PolicyError, match="judgment"):
        load_policy(dst)
    (dst / "rules.toml").write_text(rules.replace('[judgment]\nmodel = "joint"', '[judgment]\nmodel = ""'),
                                    encoding="utf-8")
    assert load_policy(dst).judgment is None


def test_a_student_id_the_heads_see_must_match_the_policy_id_pattern(policy, fake, monkeypatch):
    monkeypatch.setitem(policy.judgment.thresholds, "student-privacy", 0.5)
    fake(student_privacy=0.95, student_privacy__student_id=0.9)
    text = "You are all stars, see you Monday (f7620f14)"
    assert "student-privacy" not in check(Post(text=text, account="personal"), policy).fired
    v = check(Post(text="Locker combo for S100003 is on the board", account="personal"), policy)
    assert "student-privacy" in v.fired
