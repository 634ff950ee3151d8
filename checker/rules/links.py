"""personal-link and district-link: links between personal and district sites."""

from __future__ import annotations

from collections.abc import Iterable

from checker.context import Context
from checker.model import Finding, Post
from checker.rule import Rule


class PersonalLink(Rule):
    """A personal profile, blog or web page linked from a district-sponsored site."""

    id = "personal-link"
    applies_to = ("sponsored",)
    defaults = {"contexts": {}}  # whose page it is, from the words around it (categories.toml)

    def judgment_gate(self, post: Post, ctx: Context) -> bool:
        """Only a post with a link or a handle can link to a personal page."""
        return bool(ctx.links) or "@" in ctx.text

    def check(self, post: Post, ctx: Context) -> Iterable[Finding]:
        """One finding per personal link."""
        return [
            self.finding(ctx, f"links to {link.detail}", 0.9 if link.kind == "personal-page" else 0.8,
                         span=link.span, link=link.url, category=self.category_in_context(ctx, "personal-page"))
            for link in ctx.links if link.kind in ("personal-profile", "personal-page")
        ]


class DistrictLink(Rule):
    """A personal post that links to the district's website or a district-sponsored site."""

    id = "district-link"
    applies_to = ("personal",)

    def judgment_gate(self, post: Post, ctx: Context) -> bool:
        """Only a post with a link, a handle or a share can link to a district site."""
        return bool(ctx.links) or "@" in ctx.text or post.kind == "share"

    def check(self, post: Post, ctx: Context) -> Iterable[Finding]:
        """One finding per district link."""
        return [
            self.finding(ctx, f"links to {link.detail}", 0.95, span=link.span, link=link.url,
                         category="sponsored-site" if link.kind == "sponsored-site" else "district-website")
            for link in ctx.links if link.kind in ("district-website", "sponsored-site")
        ]
