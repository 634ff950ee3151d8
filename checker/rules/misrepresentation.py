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
    defaults = {"opinion_patterns": [], "allow_patterns": [], "political_categories": [], "attributed_patterns": []}

    def __init__(self, data: PolicyData, config: RuleConfig) -> None:
        super().__init__(data, config)
        self.opinion = re.compile("|".join(f"(?:{p})" for p in self.params["opinion_patterns"]) or r"(?!x)x")
        self.allow = re.compile("|".join(f"(?:{p})" for p in self.params["allow_patterns"]) or r"(?!x)x")
        self.political = frozenset(self.params["political_categories"])
        self.attributed = re.compile("|".join(f"(?:{p})" for p in self.params["attributed_patterns"]) or r"(?!x)x")

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


    def implied(self, findings: list[Finding], ctx: Context) -> list[Finding]:
        """A political call on a sponsored page (a `prohibited-purpose` finding of one of the
        `political_categories`) is also a position in the district's voice, unless the post says
        it is the employee's own (`attributed_patterns`; taxonomy Decisions 51 and 34)."""
        call = next((f for f in findings if f.rule == "prohibited-purpose" and f.category in self.political), None)
        if call is None or self.attributed.search(ctx.folded.text):
            return []
        return [self.finding(ctx, f"{call.what or 'a political call'} on a district-sponsored page, with nothing "
                                  "saying it is the employee's own, reads as the district's position", 0.8,
                             span=call.span, category="institutional-voice")]


QUOTES = '"\u201c\u201d'


def quoted(text: str, pos: int) -> bool:
    """Whether `pos` sits inside a double-quoted passage (an odd number of quotes before it
    since the start of its paragraph)."""
    start = text.rfind("\n", 0, pos) + 1
    return sum(text.count(q, start, pos) for q in QUOTES) % 2 == 1
