"""prohibited-purpose: private gain, political, commercial, advertising, proselytizing or
solicitation content on a district-sponsored site. Never applied to personal accounts."""

from __future__ import annotations

from collections.abc import Iterable

from checker.context import Context
from checker.model import Finding, Post
from checker.policy_data import PolicyData
from checker.rule import Rule, RuleConfig
from checker.rules._match import compile_table, drivers_text


class ProhibitedPurpose(Rule):
    """Category patterns, minus allowed district uses (events, tickets, notices, curriculum)."""

    id = "prohibited-purpose"
    applies_to = ("sponsored",)
    defaults = {
        "categories": {},
        "allow": {},
        "reasons": {},
        "taxonomy": {},  # pattern group or model category -> sub-category (categories.toml)
        # text models as "category:model" (checker/models/<model>.npz); [] = patterns only
        "models": [],
        "model_threshold": 0.5,  # artifacts are shifted so 0.5 is the threshold chosen on validation
        # checker/models/<name>.onnx: its head named after a category is blended with that
        # category's model; "" = linear models only
        "encoder": "",
        "encoder_explain": False,  # name the words by occlusion (see conduct); costly, see docs/models.md
    }

    def __init__(self, data: PolicyData, config: RuleConfig) -> None:
        super().__init__(data, config)
        from checker.neural import load_encoder  # with the rule, not the module (see conduct)
        from checker.textmodel import load_model

        self.categories = compile_table(self.params["categories"], "rules.prohibited-purpose.categories")
        self.allow = dict(compile_table(self.params["allow"], "rules.prohibited-purpose.allow"))
        self.models = []
        for entry in self.params["models"]:
            cat, sep, name = entry.partition(":")
            if not sep or not cat or not name:
                raise ValueError(f"models: {entry!r} must be 'category:model'")
            self.models.append((cat, load_model(name)))
        self.model = self.models or None  # bench/quality switches this off for "rules alone"
        self.encoder = load_encoder(self.params["encoder"]) if self.params["encoder"] else None
        if self.encoder is not None:
            missing = [cat for cat, _ in self.models if cat not in self.encoder.heads]
            if missing:
                raise ValueError(f"encoder {self.params['encoder']!r} has no head for {', '.join(missing)}")

    def judgment_allows(self, ctx: Context, category: str | None) -> bool:
        """An allowed district use in the post (a student-council vote, a PTO bake sale...) keeps
        the heads from adding a finding, as it keeps the patterns and models from firing."""
        return not any(pat.search(ctx.folded.text) for pat in self.allow.values())

    def needs_confirmation(self, finding: Finding) -> bool:
        """A political finding of the text models (not of the patterns) stands only when the
        judgment head agrees: the political models read any strong opinion on a public issue as
        advocacy; the head was trained where an opinion is a view (misrepresentation) and a call
        to act is D9's. The commercial models' findings stand (spam the head never saw)."""
        return _MODEL in finding.reason and finding.category == self.params["taxonomy"].get("political", "political")

    def check(self, post: Post, ctx: Context) -> Iterable[Finding]:
        """One finding per category that matches outside an allowed use."""
        folded = ctx.folded
        out = []
        for cat, pat in self.categories:
            allow = self.allow.get(cat)
            for m in pat.finditer(ctx.deleeted):  # "pr0mo c0de" reads as "promo code"
                span = folded.span(m.start(), m.end())
                lo, hi = ctx.sentence_window(span[0], span[1], 0)
                if allow is not None and allow.search(ctx.folded.slice(lo, hi)):
                    continue
                reason = self.params["reasons"].get(cat, [cat.replace("_", " ")])[0]
                out.append(self.finding(ctx, reason, 0.85, span=span, category=self.params["taxonomy"].get(cat, cat)))
                break
        if not out and self.model:
            out.extend(self.model_findings(ctx))
        return out

    def model_findings(self, ctx: Context) -> list[Finding]:
        """At most one finding from the text models, unless an allowed district use is in the post."""
        folded = ctx.folded
        best = None
        threshold = self.params["model_threshold"]
        scores = [(cat, model.score(folded.text, guard=True)) for cat, model in self.model or ()]
        enc = None
        if self.encoder is not None and any(self.encoder.combined(c, 1.0, s.prob) >= threshold for c, s in scores):
            enc = self.encoder.probs(folded.text)  # skipped when even a certain encoder could not fire
        for cat, s in scores:
            prob = s.prob if self.encoder is None else self.encoder.combined(cat, enc[cat] if enc else 0.0, s.prob)
            if prob >= threshold and s.top and (best is None or prob > best[1]):
                best = (cat, prob, s)
        if best is None:
            return []
        cat, prob, s = best
        allow = self.allow.get(cat)
        if allow is not None and allow.search(folded.text):
            return []
        top = s.top
        if self.encoder is not None and self.params["encoder_explain"]:  # what the blended score rests on
            model = dict(self.model or ())[cat]
            top = self.encoder.drivers(cat, folded.text, lambda t: model.score(t, guard=True).prob) or top
        span, drivers = drivers_text(folded, top)
        what = self.params["reasons"].get(cat, [cat.replace("_", " ")])[0]
        reason = f"{what}: {_MODEL} {prob:.2f} likely; words that drove it: {drivers}"
        return [self.finding(ctx, reason, prob, span=span, category=self.params["taxonomy"].get(cat, cat))]


_MODEL = "the language model rates this"
