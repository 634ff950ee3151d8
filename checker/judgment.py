"""The judgment heads: a probability per rule and per sub-category, for what the rule layer's
lists and patterns cannot see (a veiled threat, a defamatory accusation, the school's voice
taking a side).

`checker/models/<name>.onnx` is a MiniLM fine-tuned on the judgment data set with one sigmoid
head per rule and per sub-category (`heads` in `<name>.json`: "conduct", "conduct/veiled-threat",
...); `rule_thresholds` there are the per-rule thresholds chosen on the dev split
(`python -m train.judgment`, docs/models.md). A rule the rule layer did not fire fires from its
head when the head's probability reaches the threshold and the rule's `judgment_gate` allows
it; the finding's category is the rule's most probable category head.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from checker.context import Context
    from checker.model import Finding, Post
    from checker.neural import Encoder
    from checker.rule import Rule


@dataclass(frozen=True)
class Judged:
    """One rule's judgment for a post: its probability and its most probable category."""

    rule: str
    prob: float
    category: str | None
    category_prob: float


class Judgment:
    """Heads per rule and category: a fine-tuned encoder of their own (one pass per post)."""

    def __init__(self, name: str, encoder: Encoder, meta: dict[str, Any]) -> None:
        self.name = name
        self.encoder = encoder
        self.heads = list(encoder.heads)
        self.index = {h: i for i, h in enumerate(self.heads)}
        # rule -> the head probability that fires the rule on its own
        self.thresholds: dict[str, float] = {r: float(t) for r, t in meta.get("rule_thresholds", {}).items()}
        # rule -> the head probability below which the rule layer's own findings are dropped
        self.confirm: dict[str, float] = {r: float(t) for r, t in meta.get("confirm_thresholds", {}).items()}
        for r, t in (*self.thresholds.items(), *self.confirm.items()):
            if r not in self.index or not 0.0 <= t <= 1.0:
                raise ValueError(f"judgment {name!r}: threshold for {r!r} needs a head and 0 <= t <= 1")
        self.meta = meta

    def probs(self, folded: str) -> dict[str, float]:
        """Probability per head for (folded) text (cached: one pass per post)."""
        return self.encoder.probs(folded)

    def judge(self, rule: str, probs: dict[str, float], categories: list[str]) -> Judged | None:
        """The rule's judgment when its head reaches its threshold, else None."""
        t = self.thresholds.get(rule)
        if t is None:
            return None
        p = probs[rule]
        if p < t:
            return None
        scored = [(probs[f"{rule}/{c}"], c) for c in categories if f"{rule}/{c}" in self.index]
        if not scored:
            return Judged(rule, p, None, 0.0)
        cp, cat = max(scored)
        return Judged(rule, p, cat, cp)

    def apply(self, post: Post, ctx: Context, rules: list[Rule], findings: list[Finding]) -> list[Finding]:
        """The rule layer's findings, less those of `confirm` rules whose head disagrees, plus
        the rules it left unfired whose heads reach their thresholds."""
        fired = {f.rule for f in findings}
        todo = [r for r in rules if r.id in self.thresholds and r.id not in fired and r.judgment_gate(post, ctx)]
        check_fired = fired & set(self.confirm)
        if not (todo or check_fired) or not ctx.folded.text.strip():
            return findings
        probs = self.probs(ctx.folded.text)
        by_id = {r.id: r for r in rules}
        out = [f for f in findings if f.rule not in check_fired or probs[f.rule] >= self.confirm[f.rule]
               or not by_id[f.rule].needs_confirmation(f)]
        for rule in todo:
            j = self.judge(rule.id, probs, list(ctx.data.categories.get(rule.id, ())))
            if j is None or self._named_group_drove_it(rule, ctx.folded.text) or not rule.judgment_allows(ctx, j.category):
                continue
            what = rule.category_phrase(j.category) or rule.id
            reason = f"the judgment model rates this {j.prob:.2f} likely to be {what}"
            out.append(rule.finding(ctx, reason, j.prob, span=(0, len(ctx.text)), category=j.category))
        return out


    def _named_group_drove_it(self, rule: Rule, folded: str) -> bool:
        """For a rule with a `judgment_mask` (conduct: identity words), True when the head falls
        under its threshold once those words are replaced by neutral ones: naming a group is
        what pushed it over, and that is never evidence."""
        mask = rule.judgment_mask
        if not mask:
            return False
        from checker.neural import neutral_view

        alt = neutral_view(folded, mask)
        return alt is not None and self.probs(alt)[rule.id] < self.thresholds[rule.id]


_LOADED: dict[str, Judgment] = {}


def load_judgment(name: str) -> Judgment:
    """The encoder `checker/models/<name>.onnx` (with its .json and tokenizer) as judgment heads."""
    if name not in _LOADED:
        from checker.neural import load_encoder

        enc = load_encoder(name).view("")  # a shared model's judgment heads have no namespace
        _LOADED[name] = Judgment(name, enc, enc.meta)
    return _LOADED[name]
