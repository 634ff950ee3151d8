"""unapproved-site: a district-branded page or group that is not in the registry, or a registered
group set up against the rules for groups (open membership, members allowed to post), which it
cites as the clause `group_setup`."""

from __future__ import annotations

from collections.abc import Iterable

from checker.context import Context
from checker.model import Finding, Post
from checker.policy_data import PolicyData
from checker.rule import Rule, RuleConfig
from checker.rules._match import compile_table
from checker.rules.missing_disclaimer import names_pattern


class UnapprovedSite(Rule):
    """Creating or configuring district-branded pages and groups."""

    id = "unapproved-site"
    cites = ("group_setup",)
    defaults = {"kinds": ["create_page", "create_group", "group_settings"], "text_patterns": {},
                "setup_words": []}

    def __init__(self, data: PolicyData, config: RuleConfig) -> None:
        super().__init__(data, config)
        d = data.district
        self.brand = names_pattern((*d.all_names, *d.short_names))
        # What a post SAYS about a site it runs: {category: [regex]} on the folded text; the
        # `unregistered` ones count only next to a district name (a branded site).
        self.text = compile_table(self.params["text_patterns"], "rules.unapproved-site.text_patterns")

    def check(self, post: Post, ctx: Context) -> Iterable[Finding]:
        """Findings for an unregistered district-branded site or a badly set-up group."""
        if post.kind not in self.params["kinds"]:
            return self._said(ctx)
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

    def _said(self, ctx: Context) -> list[Finding]:
        """A post announcing an unregistered branded site, or saying a group is run against D3."""
        text = ctx.folded.text
        for cat, pat in self.text:
            m = pat.search(text)
            if m is None:
                continue
            if cat == "unregistered":
                if ctx.sponsored_site is not None and ctx.sponsored_site.url.lower() in text:
                    continue
                if self.brand is None or not self.brand.search(text):
                    continue
                return [self.finding(ctx, "announces a district-branded page, group or account that is not in the "
                                     "registry of approved sites", 0.8, span=ctx.folded.span(m.start(), m.end()),
                                     category=cat)]
            return [self.finding(ctx, "says the group or page is run against the rules for district sites", 0.8,
                                 cite="group_setup", span=ctx.folded.span(m.start(), m.end()), category=cat)]
        return []
