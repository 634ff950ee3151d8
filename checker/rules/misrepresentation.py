"""misrepresentation: personal views presented on a district-sponsored site."""

from __future__ import annotations

import re
from collections.abc import Iterable

from checker.context import Context
from checker.model import Finding, Post
from checker.policy_data import PolicyData
from checker.rule import Rule, RuleConfig


class Misrepresentation(Rule):
    """First-person opinion markers ("I think", "in my opinion", "personally") on a sponsored
    site, where readers take every word as the district's."""

    id = "misrepresentation"
    applies_to = ("sponsored",)
    defaults = {"opinion_patterns": [], "allow_patterns": []}

    def __init__(self, data: PolicyData, config: RuleConfig) -> None:
        super().__init__(data, config)
        self.opinion = re.compile("|".join(f"(?:{p})" for p in self.params["opinion_patterns"]) or r"(?!x)x")
        self.allow = re.compile("|".join(f"(?:{p})" for p in self.params["allow_patterns"]) or r"(?!x)x")

    def check(self, post: Post, ctx: Context) -> Iterable[Finding]:
        """A finding for the first opinion marker in each sentence."""
        folded = ctx.folded
        out = []
        for m in self.opinion.finditer(ctx.deleeted):
            span = folded.span(m.start(), m.end())
            lo, hi = ctx.sentence_window(span[0], span[1], 0)
            if self.allow.search(ctx.text[lo:hi].lower()):
                continue
            if quoted(ctx.text, span[0]):
                continue  # someone else's words, quoted and attributed
            out.append(self.finding(ctx, "a personal opinion stated on a district-sponsored site", 0.8, span=span,
                                    category="personal-opinion"))
        return out


QUOTES = '"\u201c\u201d'


def quoted(text: str, pos: int) -> bool:
    """Whether `pos` sits inside a double-quoted passage (an odd number of quotes before it
    since the start of its paragraph)."""
    start = text.rfind("\n", 0, pos) + 1
    return sum(text.count(q, start, pos) for q in QUOTES) % 2 == 1
