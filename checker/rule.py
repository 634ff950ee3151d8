"""What a rule is: a small class with a stable id, its parameters and `check()`.

The clauses a rule cites are policy data (`clauses` in its `[rules.<id>]` table of rules.toml),
handed to it in its RuleConfig. The rules themselves are listed in `checker.rules`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, ClassVar

from checker.context import Context
from checker.model import ACCOUNTS, Account, Action, Finding, Post
from checker.policy_data import PolicyData


@dataclass(frozen=True)
class RuleConfig:
    """A rule's settings from `rules.toml`: action and clause per account kind, message, fix,
    parameters, and the further clauses it cites by name (see `Rule.cites`)."""

    actions: dict[Account, Action]
    message: str
    fix: str | None = None
    params: dict[str, Any] = field(default_factory=dict)
    clauses: dict[Account, str] = field(default_factory=dict)
    cited: dict[str, str] = field(default_factory=dict)


class Rule:
    """Base class: subclasses set `id`, `applies_to`, `cites`, `defaults` and write `check`."""

    id: ClassVar[str]
    applies_to: ClassVar[tuple[Account, ...]] = ACCOUNTS
    # Names of clauses the rule cites besides its clause per account kind; each is a key of the
    # rule's `clauses` table in rules.toml ("group_setup" = the clause on setting up groups).
    cites: ClassVar[tuple[str, ...]] = ()
    defaults: ClassVar[dict[str, Any]] = {}  # parameter -> default (its type is enforced)

    def __init__(self, data: PolicyData, config: RuleConfig) -> None:
        self.data = data
        self.config = config
        self.params = config.params
        contexts = self.params.get("contexts") or {}
        for cat in contexts:
            self.category_phrase(cat)  # a category the policy does not list is a setting error
        self._contexts: list[tuple[str, re.Pattern[str]]] = [(str(cat), re.compile("|".join(f"(?:{p})" for p in pats), re.I))
                          for cat, pats in contexts.items() if pats]

    def check(self, post: Post, ctx: Context) -> Iterable[Finding]:
        """Findings for this post (called only for account kinds in `applies_to`)."""
        raise NotImplementedError

    # Words that may never count as the judgment heads' evidence (checker/judgment.py).
    judgment_mask: frozenset[str] = frozenset()

    def judgment_allows(self, ctx: Context, category: str | None) -> bool:
        """Whether a finding the heads would add (with this category) stands; a rule whose policy
        lists allowed uses says no when one of them is in the post."""
        return True

    def implied(self, findings: list[Finding], ctx: Context) -> list[Finding]:
        """Findings of this rule that follow from the other rules' findings on the post (run
        last, by checker.engine, when the rule found nothing itself); none by default."""
        return []

    def needs_confirmation(self, finding: Finding) -> bool:
        """For a rule the judgment heads confirm (checker/judgment.py `confirm`): whether this
        finding of its own stands only when its head agrees; False when the rule found the
        evidence the head would weigh itself."""
        return True

    def judgment_gate(self, post: Post, ctx: Context) -> bool:
        """Whether the judgment heads may fire this rule on a post its check() left clean
        (checker/judgment.py); a rule that needs evidence the heads cannot see says no."""
        return True

    def finding(self, ctx: Context, reason: str, score: float, *, cite: str | None = None,
                span: tuple[int, int] | None = None, link: str | None = None,
                image: str | None = None, fix: str | None = None, fix_text: str | None = None,
                category: str | None = None) -> Finding:
        """A finding citing this rule's clause for the post's account kind (or the clause it
        cites as `cite`, one of `cites`), with the excerpt at `span` trimmed of white space."""
        clause = self.config.cited[cite] if cite is not None else self.config.clauses[ctx.account]
        what = self.category_phrase(category)
        excerpt = None
        if span is not None:
            a, b = span
            while a < b and ctx.text[a].isspace():
                a += 1
            while b > a and ctx.text[b - 1].isspace():
                b -= 1
            span = (a, b)
            excerpt = ctx.text[a:b]
        return Finding(
            rule=self.id,
            clause=clause,
            message=f"{what[0].upper()}{what[1:]}. {self.config.message}" if what else self.config.message,
            reason=reason,
            score=round(float(score), 3),
            action=self.config.actions[ctx.account],
            span=span,
            excerpt=excerpt,
            link=link,
            image=image,
            fix=fix if fix is not None else self.config.fix,
            fix_text=fix_text,
            category=category,
            what=what,
        )

    def category_in_context(self, ctx: Context, default: str) -> str:
        """The first category of the rule's `contexts` table (category -> regexes, case-blind,
        on the folded text) that matches the post; `default` when none does."""
        for cat, pat in self._contexts:
            if pat.search(ctx.folded.text):
                return cat
        return default

    def most_specific(self, categories: Iterable[str]) -> str:
        """Of several categories, the first in categories.toml's order (the most specific)."""
        cats = list(categories)
        order = list(self.data.categories.get(self.id, ()))
        return min(cats, key=lambda c: order.index(c) if c in order else len(order))

    def category_phrase(self, category: str | None) -> str | None:
        """The phrase for one of this rule's categories (categories.toml), None without one.

        A category the policy does not list for this rule is a bug in the rule: ValueError."""
        known = self.data.categories.get(self.id)
        if category is None or known is None:
            return None
        if category not in known:
            raise ValueError(f"rule {self.id}: category {category!r} is not in categories.toml ({', '.join(known)})")
        return known[category]
