"""student-connection: accepting a friend/follow invitation from a student on a personal account."""

from __future__ import annotations

from collections.abc import Iterable

from checker.context import Context
from checker.model import Finding, Post
from checker.roster import NameView
from checker.rule import Rule
from checker.text import fold


class StudentConnection(Rule):
    """A `connection` post whose counterpart is a student on the roster (or is marked as a
    student, parent or under-18 alumnus by the adapter that saw the invitation)."""

    id = "student-connection"
    applies_to = ("personal",)
    defaults = {"kinds": ["connection", "friend_accept", "follow_accept"]}

    def check(self, post: Post, ctx: Context) -> Iterable[Finding]:
        """A finding when the invitation comes from a student, parent or young alumnus."""
        if post.kind not in self.params["kinds"] or not post.counterpart:
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
