"""district-logo: a district logo or image in an image uploaded to a personal account."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from checker.context import Context
from checker.model import Finding, Post
from checker.policy_data import PolicyData
from checker.rule import Rule, RuleConfig

if TYPE_CHECKING:
    from checker.imagematch import LogoIndex


class DistrictLogo(Rule):
    """Perceptual-hash match against `logos/` (robust to resize, 10% crop, recolor, re-encode)."""

    id = "district-logo"
    applies_to = ("personal",)
    defaults = {"max_distance": 8}

    def __init__(self, data: PolicyData, config: RuleConfig) -> None:
        super().__init__(data, config)
        # Pillow and numpy come with the rule, not the module.
        from checker.imagematch import LogoIndex

        self.index: LogoIndex = LogoIndex(data.logos)

    def check(self, post: Post, ctx: Context) -> Iterable[Finding]:
        """One finding per uploaded image that matches a logo."""
        out = []
        limit = self.params["max_distance"]
        for img in post.images:
            m = self.index.nearest(img.data)
            if m is not None and m.distance <= limit:
                out.append(self.finding(
                    ctx, f"the image matches the district logo {m.logo} (distance {m.distance}/64)",
                    1.0 - m.distance / 64, image=img.name, category="logo",
                    fix="Remove the district logo from the image.",
                ))
        return out
