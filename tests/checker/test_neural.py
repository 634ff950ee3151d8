"""The fine-tuned encoder: artifact, one pass per post, calibration, identity guard, rule findings."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from checker import PolicyError, Post, check, load_policy
from checker.neural import Encoder, load_encoder, neutral_view
from checker.text import fold

ROOT = Path(__file__).parents[2]
MODELS = ROOT / "checker" / "models"
SPONSORED = "https://www.facebook.com/NonnewaugAthletics"
# The encoder the shipped policy names for conduct and prohibited-purpose ("joint:neural": the
# `neural` heads of the shared model), and the model file that holds it.
ENCODER = re.search(r'^encoder = "([^"]+)"', (ROOT / "policies" / "region14" / "rules.toml").read_text(encoding="utf-8"),
                    re.M).group(1)  # type: ignore[union-attr]
BASE = ENCODER.split(":")[0]


@pytest.fixture()
def enc():
    e = load_encoder(ENCODER)
    cache = getattr(e, "base", e).probs  # a view's passes are cached by its model
    cache.cache_clear()
    yield e
    cache.cache_clear()


def test_artifact_is_small_quantized_and_loads_once(enc):
    assert load_encoder(ENCODER) is enc
    assert enc.heads == ("conduct", "commercial", "political")
    assert (MODELS / f"{BASE}.onnx").stat().st_size < 30_000_000
    meta = json.loads((MODELS / f"{BASE}.json").read_text(encoding="utf-8"))
    assert "int8" in meta["quantization"]
    for h in enc.heads:  # chosen by `python -m train.neural calibrate`, not left at defaults
        assert meta["validation"][h]["threshold"] == enc.thresholds[h]


def test_shipped_policy_uses_the_encoder(policy):
    rules = {r.id: r for r in policy.rules}
    assert rules["conduct"].encoder is load_encoder(ENCODER)
    assert rules["prohibited-purpose"].encoder is load_encoder(ENCODER)


def test_combined_maps_the_validated_threshold_to_one_half(enc):
    for h in enc.heads:
        t, a = enc.thresholds[h], enc.blend[h]
        # a score exactly at the threshold (encoder and linear model agreeing) maps to 0.5
        assert enc.combined(h, t, t) == pytest.approx(0.5)
        lo, hi = enc.combined(h, 0.0, 0.0), enc.combined(h, 1.0, 1.0)
        assert lo == pytest.approx(0.0) and hi == pytest.approx(1.0)
        xs = [enc.combined(h, p, 0.3) for p in (0.0, 0.2, 0.4, 0.6, 0.8, 1.0)]
        assert xs == sorted(xs) and (a == 0.0 or xs[0] < xs[-1])


def test_one_encoder_pass_serves_conduct_and_prohibited_purpose(policy, enc, monkeypatch):
    for h in enc.heads:  # the encoder alone decides every head: no rule may skip its pass
        monkeypatch.setitem(enc.blend, h, 1.0)
    calls = []
    real = enc.session.run

    def counting(names, feeds):
        calls.append(feeds["input_ids"].shape)
        return real(names, feeds)

    monkeypatch.setattr(enc.session, "run", counting)
    check(Post(text="Practice moved to the upper field this afternoon", account="sponsored",
               target=SPONSORED), policy)
    assert len(calls) == 1, calls  # conduct, commercial and political share one pass
    enc.probs("a second rule asks again")
    enc.probs("a second rule asks again")
    assert len(calls) == 2, calls  # the same text again is served from the cache


@pytest.mark.parametrize("text,account", [
    ("Practice moved to the upper field this afternoon", "sponsored"),
    ("grading essays all weekend again, send coffee", "personal"),
    ("Mañana no hay práctica por la lluvia, nos vemos el jueves", "personal"),
])
def test_one_model_run_per_post_serves_every_rule_and_the_judgment_heads(policy, enc, text, account, monkeypatch):
    # The shipped policy's encoder rules and its judgment heads read one model, so a post costs
    # one run of it (a second only for the identity guard of a flagged post naming a group).
    assert policy.judgment is not None and policy.judgment.encoder.session is enc.session
    runs = []
    real = enc.session.run
    monkeypatch.setattr(enc.session, "run", lambda n, f: runs.append(f["input_ids"].shape) or real(n, f))
    post = Post(text=text, account=account, target=SPONSORED if account == "sponsored" else None)
    check(post, policy)
    assert len(runs) == 1, runs


def test_the_encoder_pass_is_skipped_only_when_it_cannot_matter(policy, enc, monkeypatch):
    conduct = {r.id: r for r in policy.rules}["conduct"]
    lin = conduct.model.score(fold("Practice moved to the upper field").text, mask=conduct.model_mask, guard=True).prob
    reachable = enc.combined("conduct", 1.0, lin) >= conduct.params["model_threshold"]
    calls = []
    monkeypatch.setattr(enc, "probs", lambda t: calls.append(t) or {h: 1.0 for h in enc.heads})
    fired = "conduct" in check(Post(text="Practice moved to the upper field", account="personal"), policy).fired
    # With a certain encoder the post fires exactly when the blend can reach the threshold.
    assert bool(calls) == reachable
    assert fired == reachable


def test_long_posts_are_read_up_to_max_tokens(enc, monkeypatch):
    shapes = []
    real = enc.session.run
    monkeypatch.setattr(enc.session, "run", lambda n, f: shapes.append(f["input_ids"].shape) or real(n, f))
    enc.probs(fold("word " * 2000).text)
    assert shapes == [(1, enc.max_tokens)]


def test_neutral_view_replaces_only_the_listed_words():
    assert neutral_view("my gay neighbor is kind", frozenset({"gay"})) == "my local neighbor is kind"
    assert neutral_view("great game tonight", frozenset({"gay"})) is None


def _fake_probs(enc, monkeypatch, scores):
    """Make the encoder return fixed conduct probabilities by a substring of the text (and make
    the conduct score the encoder's alone, so the linear model cannot decide the case)."""
    monkeypatch.setitem(enc.blend, "conduct", 1.0)

    def probs(text):
        p = next((v for k, v in scores.items() if k in text), 0.0)
        return {"conduct": p, "commercial": 0.0, "political": 0.0}

    monkeypatch.setattr(enc, "probs", probs)
    monkeypatch.setattr(enc, "raw_probs", lambda texts: [list(probs(t).values()) for t in texts])


def test_identity_guard_drops_a_finding_that_naming_a_group_drove(policy, enc, monkeypatch):
    conduct = {r.id: r for r in policy.rules}["conduct"]
    text = "The Muslim parents met the principal about the schedule"
    # High only while the group word is present: the guard's neutral view scores low -> no finding.
    _fake_probs(enc, monkeypatch, {"muslim": 1.0})
    assert "conduct" not in check(Post(text=text, account="personal"), policy).fired
    # High with the group word replaced too: the rest of the post carries it -> a finding.
    _fake_probs(enc, monkeypatch, {"muslim": 1.0, "local": 1.0})
    v = check(Post(text=text, account="personal"), policy)
    assert "conduct" in v.fired
    f = next(x for x in v.findings if x.rule == "conduct")
    assert f.clause == "P9" and f.category == "group-hostility"
    assert conduct.params["model_ignore_identity"] is True


def test_an_encoder_finding_explains_itself(policy, enc, monkeypatch):
    text = "The cafeteria menu changed again today"
    _fake_probs(enc, monkeypatch, {"cafeteria": 1.0})
    conduct = {r.id: r for r in policy.rules}["conduct"]
    assert conduct.params["encoder_explain"] is False  # the shipped policy names the linear model's words
    v = check(Post(text=text, account="sponsored", target=SPONSORED), policy)
    f = next(x for x in v.findings if x.rule == "conduct")
    assert f.clause == "D4" and f.score >= 0.5
    assert "language model rates this" in f.reason
    assert text[f.span[0]:f.span[1]] == f.excerpt
    monkeypatch.setitem(conduct.params, "encoder_explain", True)
    f = next(x for x in check(Post(text=text, account="sponsored", target=SPONSORED), policy).findings
             if x.rule == "conduct")
    assert text[f.span[0]:f.span[1]] == f.excerpt
    # The words named are the ones the score rests on: deleting "cafeteria" is what lowers it,
    # and no other word changes it, so it is the only one named.
    assert f.excerpt == "cafeteria"
    assert f.reason.endswith("words that drove it: 'cafeteria'")


def test_drivers_are_found_by_deleting_each_word_in_one_batched_pass(policy, enc, monkeypatch):
    text = "Shut up already, nobody asked for your garbage opinion"
    folded = fold(text).text
    shapes = []
    real = enc.session.run
    monkeypatch.setattr(enc.session, "run", lambda n, f: shapes.append(f["input_ids"].shape) or real(n, f))
    conduct = {r.id: r for r in policy.rules}["conduct"]

    def linear(t):
        return conduct.model.score(t, mask=conduct.model_mask, guard=True).prob

    top = enc.drivers("conduct", folded, linear, skip=conduct.model_mask)
    words = [w for w, *_ in top]
    content = ["shut", "already", "nobody", "asked", "garbage", "opinion"]  # not up, for, your
    assert len(shapes) == 1 and shapes[0][0] == 1 + len(content)  # the post and each content word deleted: one pass
    assert 1 <= len(top) <= 3 and all(d > 0 for _, d, _, _ in top)
    spans = [(m.start(), m.end()) for m in re.finditer(r"[a-z]+", folded) if m.group() in content]
    batch = enc.raw_probs([folded, *(folded[:a] + folded[b:] for a, b in spans)])
    base = enc.combined("conduct", batch[0][0], linear(folded))
    for w, drop, a, b in top:  # each drop is what deleting that word does to the blended score
        assert folded[a:b] == w
        v = folded[:a] + folded[b:]
        k = spans.index((a, b)) + 1
        assert drop == pytest.approx(base - enc.combined("conduct", batch[k][0], linear(v)))
    assert [d for _, d, _, _ in top] == sorted((d for _, d, _, _ in top), reverse=True)
    assert set(words) <= set(content)
    # identity and mild words are never named as what drove a finding
    named = [w for w, *_ in enc.drivers("conduct", "those gay people are garbage", linear, skip=frozenset({"gay"}))]
    assert named and "gay" not in named


def test_occlusion_can_name_a_number_but_never_a_function_word_or_symbol(policy, enc):
    # A premium-rate number is what drives much spam; "to", "£" and single digits explain nothing.
    folded = fold("URGENT! Call 09066350750 to claim your £900 prize now").text
    commercial = dict({r.id: r for r in policy.rules}["prohibited-purpose"].model)["commercial"]
    top = enc.drivers("commercial", folded, lambda t: commercial.score(t, guard=True).prob, top_n=16)
    named = {folded[a:b] for _, _, a, b in top}
    assert "09066350750" in named
    assert not named & {"to", "your", "£", "!"}


def test_prohibited_purpose_uses_the_head_named_after_the_category(policy, enc, monkeypatch):
    def probs(text):
        return {"conduct": 0.0, "commercial": 1.0 if "menu" in text else 0.0, "political": 0.0}

    monkeypatch.setattr(enc, "probs", probs)
    monkeypatch.setattr(enc, "raw_probs", lambda texts: [list(probs(t).values()) for t in texts])
    monkeypatch.setitem(enc.blend, "commercial", 1.0)
    monkeypatch.setitem({r.id: r for r in policy.rules}["prohibited-purpose"].params, "encoder_explain", True)
    if policy.judgment is not None:  # what the text models find, unconfirmed (the judgment head's check: test_judgment)
        monkeypatch.delitem(policy.judgment.confirm, "prohibited-purpose", raising=False)
    text = "The new menu is here, come try it this week"
    v = check(Post(text=text, account="sponsored", target=SPONSORED), policy)
    assert [f.category for f in v.findings if f.rule == "prohibited-purpose"] == ["advertising"]  # the commercial head reports the taxonomy category
    f = next(x for x in v.findings if x.rule == "prohibited-purpose")
    assert f.excerpt == "menu" and f.reason.endswith("words that drove it: 'menu'")
    assert "prohibited-purpose" not in check(Post(text=text, account="personal"), policy).fired


@pytest.mark.parametrize("bad,needle", [
    ('encoder = "no-such-encoder"', "no-such-encoder"),
])
def test_a_missing_encoder_is_a_policy_error_naming_the_rule(tmp_path, bad, needle):
    dst = tmp_path / "p"
    shutil.copytree(ROOT / "policies" / "region14", dst)
    rules = (dst / "rules.toml").read_text(encoding="utf-8")
    assert f'encoder = "{ENCODER}"' in rules
    (dst / "rules.toml").write_text(rules.replace(f'encoder = "{ENCODER}"', bad, 1), encoding="utf-8")
    with pytest.raises(PolicyError) as e:
        load_policy(dst)
    assert "rules.conduct" in str(e.value) and needle in str(e.value)


def test_bad_calibration_is_refused(tmp_path):
    meta = {"heads": ["conduct"], "thresholds": {"conduct": 1.5}}
    with pytest.raises(ValueError, match="threshold"):
        Encoder(MODELS / f"{BASE}.onnx", meta, MODELS / f"{BASE}-tokenizer.json")


def test_the_session_is_created_on_first_use_or_warm_up():
    meta = json.loads((MODELS / f"{BASE}.json").read_text(encoding="utf-8"))
    e = Encoder(MODELS / f"{BASE}.onnx", meta, MODELS / f"{BASE}-tokenizer.json")
    assert e._session is None  # a process that never checks (the proxy's event loop) pays nothing
    e.warm()
    assert e._session is not None
    assert e.raw_probs(["great game tonight"])[0] == load_encoder(BASE).raw_probs(["great game tonight"])[0]


def test_a_corrupt_artifact_is_a_clear_error(tmp_path):
    bad = tmp_path / "neural.onnx"
    bad.write_bytes(b"not an onnx graph")
    e = Encoder(bad, {"heads": ["conduct"]}, MODELS / f"{BASE}-tokenizer.json")
    with pytest.raises(ValueError, match="cannot load neural.onnx"):
        e.warm()
