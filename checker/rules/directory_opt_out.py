"""directory-opt-out: any directory information of a student whose parent objected."""

from __future__ import annotations

import re
from collections.abc import Iterable

from checker.context import Context
from checker.model import Finding, Post
from checker.policy_data import PolicyData
from checker.rule import Rule, RuleConfig


class DirectoryOptOut(Rule):
    """A full name (or first name + initial) of an opted-out student; a first name alone only
    where the text plainly uses it as a student's name ("Congratulations to Mason")."""

    id = "directory-opt-out"
    applies_to = ("sponsored",)
    defaults = {"first_name_contexts": [], "title_words": [], "contexts": {}}

    def __init__(self, data: PolicyData, config: RuleConfig) -> None:
        super().__init__(data, config)
        roster = data.roster
        self.opted = {i for i, s in enumerate(roster.students) if s.opt_out}
        # First names (case kept) that belong to an opted-out student.
        firsts = sorted({
            n for i in self.opted for n in (roster.students[i].first, roster.students[i].preferred) if n
        }, key=len, reverse=True)
        self.first_re: list[re.Pattern[str]] = []
        if firsts and self.params["first_name_contexts"]:
            alt = "|".join(re.escape(f) for f in firsts)
            pats = [c.replace("{first}", f"(?P<first>{alt})") for c in self.params["first_name_contexts"]]
            self.first_re = [re.compile(c) for c in pats]
        self.titles = re.compile(
            r"\b(?:" + "|".join(re.escape(t) for t in self.params["title_words"]) + r")\.?\s*$", re.I
        ) if self.params["title_words"] else None

    def judgment_gate(self, post: Post, ctx: Context) -> bool:
        """Who opted out is on the roster only: the heads cannot know it."""
        return False

    def check(self, post: Post, ctx: Context) -> Iterable[Finding]:
        """Findings for each mention of an opted-out student."""
        if not self.opted:
            return []
        out = []
        for hit in ctx.names:
            if not self.opted.intersection(hit.students):
                continue
            if self.titles and self.titles.search(ctx.text[max(0, hit.start - 8):hit.start]):
                continue
            out.append(self.finding(
                ctx, "names a student whose parent objected to releasing directory information",
                0.95 if hit.form == "full" else 0.85, span=(hit.start, hit.end),
                category=self.category_in_context(ctx, "name-mention"),
            ))
        taken = [(h.start, h.end) for h in ctx.names]
        for pat in self.first_re:
            for m in pat.finditer(ctx.text):
                a, b = m.span("first")
                if any(x <= a < y for x, y in taken):
                    continue
                taken.append((a, b))
                out.append(self.finding(
                    ctx, "names (by first name) a student whose parent objected to releasing directory information",
                    0.75, span=(a, b), category=self.category_in_context(ctx, "name-mention"),
                ))
        return out
