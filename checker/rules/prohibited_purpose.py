"""prohibited-purpose (D9): private gain, political, commercial, advertising, proselytizing or
solicitation content on a district-sponsored site. Never applied to personal accounts."""

from __future__ import annotations

from collections.abc import Iterable

from checker.context import Context
from checker.model import Finding, Post
from checker.rules import Rule, register
from checker.rules.student_privacy import compile_table


@register
class ProhibitedPurpose(Rule):
    """Category patterns, minus allowed district uses (events, tickets, notices, curriculum)."""

    id = "prohibited-purpose"
    clauses = {"sponsored": "D9"}
    applies_to = ("sponsored",)
    defaults = {"categories": {}, "allow": {}, "reasons": {}}

    def __init__(self, data, config) -> None:  # noqa: ANN001 - see Rule
        super().__init__(data, config)
        self.categories = compile_table(self.p["categories"], "rules.prohibited-purpose.categories")
        self.allow = dict(compile_table(self.p["allow"], "rules.prohibited-purpose.allow"))

    def check(self, post: Post, ctx: Context) -> Iterable[Finding]:
        """One finding per category that matches outside an allowed use."""
        folded = ctx.folded
        out = []
        for cat, pat in self.categories:
            allow = self.allow.get(cat)
            for m in pat.finditer(folded.text):
                span = folded.span(m.start(), m.end())
                lo, hi = ctx.sentence_window(span[0], span[1], 0)
                if allow is not None and allow.search(fold_slice(ctx, lo, hi)):
                    continue
                reason = self.p["reasons"].get(cat, [cat.replace("_", " ")])[0]
                out.append(self.finding(ctx, reason, 0.85, span=span, category=cat))
                break
        return out


def fold_slice(ctx: Context, lo: int, hi: int) -> str:
    """The folded text of original chars [lo, hi)."""
    from checker.text import fold

    return fold(ctx.text[lo:hi]).text
