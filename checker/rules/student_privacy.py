"""student-privacy: an identifiable student together with confidential matter."""

from __future__ import annotations

import re
from collections.abc import Iterable

from checker.context import Context
from checker.model import Finding, Post
from checker.policy_data import PolicyData
from checker.rule import Rule, RuleConfig
from checker.rules._match import compile_table


class StudentPrivacy(Rule):
    """Identifier (roster name, student id, unmistakable reference) + confidential term nearby."""

    id = "student-privacy"
    defaults = {
        "student_id_pattern": r"\bs\d{6}\b",
        "reference_patterns": [],
        "family_patterns": [],
        "confidential": {},
        "taxonomy": {},  # confidential group -> sub-category (categories.toml)
        "window_sentences": 1,
    }

    def __init__(self, data: PolicyData, config: RuleConfig) -> None:
        super().__init__(data, config)
        params = self.params
        where = "rules.student-privacy"
        self.sid = re.compile(params["student_id_pattern"], re.I)
        self.refs = [re.compile(r) for r in params["reference_patterns"]]
        self.family = re.compile("|".join(f"(?:{r})" for r in params["family_patterns"]) or r"(?!x)x")
        self.confidential = compile_table(params["confidential"], f"{where}.confidential")

    def judgment_allows(self, ctx: Context, category: str | None) -> bool:
        """A student id the heads think they see must be one: the policy's id pattern decides
        (a random code in a post is not an id)."""
        return category != "student-id" or bool(self.sid.search(ctx.folded.text))

    def _identifiers(self, ctx: Context) -> list[tuple[tuple[int, int], str, float]]:
        """(original span, description, score) of every way the text identifies a student."""
        folded = ctx.folded
        found: list[tuple[tuple[int, int], str, float]] = []
        for hit in ctx.names:
            before = ctx.text[max(0, hit.start - 40):hit.start].lower()
            if self.family.search(before):
                continue  # the employee's own child, sibling...
            found.append(((hit.start, hit.end), "a student named on the roster", 0.95 if hit.form == "full" else 0.8))
        for m in self.sid.finditer(folded.text):
            known = m.group().upper() in ctx.data.roster.ids
            found.append((folded.span(m.start(), m.end()), "a student id", 0.95 if known else 0.8))
        for r in self.refs:
            for m in r.finditer(folded.text):
                found.append((folded.span(m.start(), m.end()), "a clearly identifiable student", 0.85))
        return found

    def check(self, post: Post, ctx: Context) -> Iterable[Finding]:
        """One finding per identifier that has confidential matter in its window."""
        ids = self._identifiers(ctx)
        if not ids:
            return []
        folded = ctx.folded
        terms: list[tuple[tuple[int, int], str]] = []
        for cat, pat in self.confidential:
            for m in pat.finditer(folded.text):
                terms.append((folded.span(m.start(), m.end()), cat))
        if not terms:
            return []
        out = []
        used: set[tuple[int, int]] = set()
        for span, what, score in sorted(ids):
            lo, hi = ctx.sentence_window(span[0], span[1], self.params["window_sentences"])
            # A confidential term in the previous sentence counts too when this one refers back.
            near = [t for t in terms if lo <= t[0][0] < hi and t[0] != span]
            if not near:
                continue
            if span in used:
                continue
            used.add(span)
            cats = sorted({c for _, c in near})
            term_span, _ = near[0]
            out.append(self.finding(
                ctx, f"{what} together with {', '.join(c.replace('_', ' ') for c in cats)}",
                score, span=(min(span[0], term_span[0]), max(span[1], term_span[1])),
                category=self.most_specific(self.params["taxonomy"].get(c, c) for c in cats),
            ))
        return out
