"""missing-disclaimer: a personal post that references the district without saying the
views are the employee's own. The finding carries the exact statement to add."""

from __future__ import annotations

import re
from collections.abc import Iterable

from checker.context import Context
from checker.model import Finding, Post
from checker.policy_data import PolicyData
from checker.rule import Rule, RuleConfig


def names_pattern(names: tuple[str, ...]) -> re.Pattern[str] | None:
    """Whole-word, case-insensitive alternation of names, tolerant of extra spaces."""
    if not names:
        return None
    alts = sorted({re.escape(n.lower()).replace(r"\ ", r"\s+") for n in names}, key=len, reverse=True)
    return re.compile(r"(?<![\w])(?:" + "|".join(alts) + r")(?![\w])")


class MissingDisclaimer(Rule):
    """District, Board, school, program or team named on a personal account, no disclaimer."""

    id = "missing-disclaimer"
    applies_to = ("personal",)
    defaults = {"short_name_contexts": [], "generic_references": [], "disclaimer_patterns": [], "contexts": {},
                "cheer_max_words": 0, "personal_mentions": []}

    def __init__(self, data: PolicyData, config: RuleConfig) -> None:
        super().__init__(data, config)
        d = data.district
        self.names = names_pattern(d.all_names)
        shorts = "|".join(re.escape(s) for s in sorted(d.short_names, key=len, reverse=True))
        ctxs = [c.replace("{short}", f"(?:{shorts})") for c in self.params["short_name_contexts"]] if shorts else []
        # Short names keep their case ("NHS" the school, not "nhs" in a URL).
        self.shorts = re.compile("|".join(f"(?:{c})" for c in ctxs)) if ctxs else None
        gen = self.params["generic_references"]
        self.generic = re.compile("|".join(f"(?:{g})" for g in gen)) if gen else None
        dis = self.params["disclaimer_patterns"]
        self.disclaimer = re.compile("|".join(f"(?:{p})" for p in dis)) if dis else None
        per = self.params["personal_mentions"]
        self.personal = re.compile("|".join(f"(?:{p})" for p in per)) if per else None

    def needs_confirmation(self, finding: Finding) -> bool:
        """A reference (by name, or a shared district page) next to what makes a post read as
        official (a schedule, a result, the institution's voice: the `contexts`) stands on its
        own; a bare one stands when the judgment head also reads the post as official."""
        return finding.category == _NO_CONTEXT

    def judgment_gate(self, post: Post, ctx: Context) -> bool:
        """A post that carries a disclaimer never needs one, and neither a personal mention nor a
        cheer alone (Decision 43) is an official communication: the heads may not fire the rule
        on any of them."""
        return ((self.disclaimer is None or not self.disclaimer.search(ctx.folded.text))
                and not self._a_personal_mention(ctx) and not self._a_cheer_alone(post, ctx))

    def check(self, post: Post, ctx: Context) -> Iterable[Finding]:
        """One finding at the first reference when no disclaimer phrasing is present."""
        folded = ctx.folded.text
        ref = None
        what = ""
        if self.names is not None and (m := self.names.search(folded)):
            ref, what = ctx.folded.span(m.start(), m.end()), "names the district, a school, program or team"
        elif self.shorts is not None and (m := self.shorts.search(ctx.text)):
            ref, what = m.span(), "names a school"
        elif self.generic is not None and (m := self.generic.search(folded)):
            ref, what = ctx.folded.span(m.start(), m.end()), "refers to the district or the Board"
        elif link := next((k for k in ctx.links if k.kind in ("district-website", "sponsored-site")), None):
            # a share of a district page carries what the page announces (taxonomy Decision 55)
            ref, what = link.span or (0, len(ctx.text)), _SHARES
        if ref is None:
            return []
        if self.disclaimer is not None and self.disclaimer.search(folded):
            return []
        if self._a_cheer_alone(post, ctx) or self._a_personal_mention(ctx):
            return []
        statement = self.data.district.disclaimer_fix
        return [self.finding(
            ctx, f"{what} without stating that the views are the employee's own", 0.9,
            span=ref, fix_text=statement, category=self.category_in_context(ctx, _NO_CONTEXT),
        )]

    def _a_personal_mention(self, ctx: Context) -> bool:
        """A new job, a retirement, a first day, pride in one's own child (taxonomy Decision 44:
        no reader takes it as the district speaking, whatever else the post says)."""
        return self.personal is not None and bool(self.personal.search(ctx.folded.text))

    def _a_cheer_alone(self, post: Post, ctx: Context) -> bool:
        """A cheer alone is not an official communication (taxonomy Decision 43): no link, none
        of the `contexts` (results, announcements, speaking for the district), and at most
        `cheer_max_words` words besides the references ("Nonnewaug Chargers forever 💙💛")."""
        limit = int(self.params["cheer_max_words"])
        folded = ctx.folded.text
        if limit <= 0 or post.links or "http" in folded or "www." in folded:
            return False
        if any(pat.search(folded) for _, pat in self._contexts):
            return False
        rest = folded
        for pat in (self.names, self.generic):
            rest = pat.sub(" ", rest) if pat is not None else rest
        if rest == folded and self.shorts is not None:  # only a short name ("go NHS"): on the text, as found
            rest = self.shorts.sub(" ", ctx.text)
        return len(_WORD.findall(rest)) <= limit


_SHARES = "shares a district page"
_NO_CONTEXT = "district-news"  # the category of a reference none of the `contexts` makes official
_WORD = re.compile(r"[^\W_]{2,}")
