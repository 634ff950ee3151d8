"""unapproved-site: a district-branded page or group that is not in the registry, or a registered
group set up against the rules for groups (open membership, members allowed to post), which it
cites as the clause `group_setup`."""

from __future__ import annotations

from collections.abc import Iterable

from checker.context import Context
from checker.model import Finding, Post
from checker.policy_data import PolicyData
from checker.rule import Rule, RuleConfig
from checker.rules.missing_disclaimer import names_pattern


class UnapprovedSite(Rule):
    """Creating or configuring district-branded pages and groups."""

    id = "unapproved-site"
    cites = ("group_setup",)
    defaults = {"kinds": ["create_page", "create_group", "group_settings"]}

    def __init__(self, data: PolicyData, config: RuleConfig) -> None:
        super().__init__(data, config)
        d = data.district
        self.brand = names_pattern((*d.all_names, *d.short_names))

    def check(self, post: Post, ctx: Context) -> Iterable[Finding]:
        """Findings for an unregistered district-branded site or a badly set-up group."""
        if post.kind not in self.params["kinds"]:
            return []
        out = []
        site = ctx.sponsored_site
        if site is None and self.brand is not None and (m := self.brand.search(ctx.folded.text)):
            out.append(self.finding(
                ctx, "a district-branded page or group that is not in the registry of approved sites",
                0.85, span=ctx.folded.span(m.start(), m.end()), category="unregistered",
                fix="Submit a social media request form and get written approval before setting up the site.",
            ))
        s = post.settings
        if post.kind in ("create_group", "group_settings") and (site is not None or out):
            if s.get("closed") is False or s.get("privacy") in ("public", "open"):
                out.append(self.finding(ctx, "the group is open, not closed to students, parents and staff",
                                        0.9, cite="group_setup", fix="Make the group closed (members by approval only).",
                                        category="open-group"))
            if s.get("members_can_post") is True:
                out.append(self.finding(ctx, "members can post new content", 0.9, cite="group_setup",
                                        category="member-posting",
                                        fix="Block new posts from members; only the responsible employee posts."))
        return out
