"""Rule registry: every rule is a small class with a stable id, its clauses and `check()`.

Built-in rules live in this package and register with `@register`; a district's own rule
registers the same way from any module named in the entry point group `postguard.rules`.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Iterable
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import TYPE_CHECKING, Any, ClassVar

from checker.model import Finding, Post

if TYPE_CHECKING:
    from checker.context import Context
    from checker.policy import PolicyData

REGISTRY: dict[str, type[Rule]] = {}


@dataclass(frozen=True)
class RuleConfig:
    """A rule's settings from `rules.toml`: action per account kind, message, fix, parameters."""

    actions: dict[str, str]
    message: str
    fix: str | None = None
    params: dict[str, Any] = field(default_factory=dict)


class Rule:
    """Base class: subclasses set `id`, `clauses`, `applies_to`, `defaults` and write `check`."""

    id: ClassVar[str]
    clauses: ClassVar[dict[str, str]]  # account kind -> clause id
    applies_to: ClassVar[tuple[str, ...]] = ("personal", "sponsored")
    defaults: ClassVar[dict[str, Any]] = {}  # parameter -> default (its type is enforced)

    def __init__(self, data: PolicyData, config: RuleConfig) -> None:
        self.data = data
        self.config = config
        self.p = config.params

    def check(self, post: Post, ctx: Context) -> Iterable[Finding]:
        """Findings for this post (called only for account kinds in `applies_to`)."""
        raise NotImplementedError

    def finding(self, ctx: Context, reason: str, score: float, **kw: Any) -> Finding:
        """A finding citing this rule's clause for the post's account kind."""
        clause = kw.pop("clause", None) or self.clauses[ctx.account]
        if kw.get("span") is not None and "excerpt" not in kw:
            a, b = kw["span"]
            while a < b and ctx.text[a].isspace():
                a += 1
            while b > a and ctx.text[b - 1].isspace():
                b -= 1
            kw["span"] = (a, b)
            kw["excerpt"] = ctx.text[a:b]
        return Finding(
            rule=self.id,
            clause=clause,
            message=self.config.message,
            reason=reason,
            score=round(float(score), 3),
            action=self.config.actions[ctx.account],
            fix=kw.pop("fix", self.config.fix),
            **kw,
        )


def register(cls: type[Rule]) -> type[Rule]:
    """Class decorator that adds a rule to the registry under its id."""
    if cls.id in REGISTRY and REGISTRY[cls.id] is not cls:
        raise ValueError(f"two rules claim the id {cls.id!r}")
    REGISTRY[cls.id] = cls
    return cls


def discover() -> dict[str, type[Rule]]:
    """Import the built-in rule modules and any `postguard.rules` entry points."""
    for mod in pkgutil.iter_modules(__path__):
        importlib.import_module(f"{__name__}.{mod.name}")
    for ep in entry_points(group="postguard.rules"):
        ep.load()
    return REGISTRY
