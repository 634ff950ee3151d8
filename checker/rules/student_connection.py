"""student-connection: accepting a friend/follow invitation from a student, a parent or an
under-18 alumnus on a personal account, or inviting them to connect with it (P1)."""

from __future__ import annotations

import re
from collections.abc import Iterable

from checker.context import Context
from checker.model import Finding, Post
from checker.policy_data import PolicyData
from checker.roster import NameView
from checker.rule import Rule, RuleConfig
from checker.rules._match import compile_table
from checker.text import fold

# Who the counterpart is, in the order tried, and the finding's phrase (None: never a finding).
_WHO = {"adult": None, "minor-alumnus": "an alumnus under 18", "parent": "a parent", "student": "a student"}


class StudentConnection(Rule):
    """A `connection` post whose counterpart is a student on the roster (or is marked as a
    student, parent or under-18 alumnus by the adapter that saw the invitation); and a post that
    says it accepted or followed back such a person, or invites students or parents to the
    employee's personal account (`text_patterns`, docs/policy-taxonomy.md §11)."""

    id = "student-connection"
    applies_to = ("personal",)
    defaults = {"kinds": ["connection", "friend_accept", "follow_accept"], "text_patterns": {}}

    def __init__(self, data: PolicyData, config: RuleConfig) -> None:
        super().__init__(data, config)
        # {name: [regex]} on the folded text: `accepted` and `solicited` say what was done,
        # `audience` whom an invitation addresses, `declined` undoes an acceptance, and the
        # _WHO names (relative, adult, minor-alumnus, parent, student) who the counterpart is.
        self.text = dict(compile_table(self.params["text_patterns"], "rules.student-connection.text_patterns"))

    def check(self, post: Post, ctx: Context) -> Iterable[Finding]:
        """A finding when the invitation comes from a student, parent or young alumnus."""
        if post.kind not in self.params["kinds"]:
            return self._said(ctx)
        if not post.counterpart:
            return []
        rel = str(post.settings.get("relationship", "")).lower()
        if rel in ("relative", "family", "family friend"):
            return []
        if rel in ("student", "parent", "alumnus-minor"):
            cat = {"student": "student", "parent": "parent", "alumnus-minor": "minor-alumnus"}[rel]
            return [self.finding(ctx, f"accepting an invitation from a {rel.replace('-minor', ' under 18')}", 0.9,
                                 category=cat)]
        hits = self.data.roster.find_names(NameView(fold(post.counterpart)))
        if hits:
            return [self.finding(ctx, "accepting an invitation from a student on the roster", 0.9, category="student")]
        return []

    def _said(self, ctx: Context) -> list[Finding]:
        """What a post says it did: accepted or followed back someone it names as a student,
        parent or under-18 alumnus (never a relative or family friend, never an adult), or an
        invitation to students or parents to follow or add the employee's personal account."""
        text = ctx.folded.text

        def found(name: str) -> re.Match[str] | None:
            pat = self.text.get(name)
            return pat.search(text) if pat is not None else None

        # the acts first: most posts say neither, and then nothing else is searched
        solicited, accepted = found("solicited"), found("accepted")
        if (solicited is None and accepted is None) or found("relative") or found("declined"):
            return []
        if solicited is not None and found("audience"):
            return [self.finding(ctx, "inviting students or parents to connect with a personal account", 0.8,
                                 span=ctx.folded.span(solicited.start(), solicited.end()),
                                 category="solicited-connection")]
        if accepted is None:
            return []
        span = ctx.folded.span(accepted.start(), accepted.end())
        for who, phrase in _WHO.items():
            if not found(who):
                continue
            if phrase is None or (who == "minor-alumnus" and not found("minor")):
                return []  # an adult, or a former student of no stated age
            return [self.finding(ctx, f"says it accepted or followed back {phrase}", 0.8, span=span, category=who)]
        if ctx.names:  # a student on the roster, named
            return [self.finding(ctx, "says it accepted or followed back a student on the roster", 0.8, span=span,
                                 category="student")]
        return []
