"""The checker's data types: what goes in (a post) and what comes out (findings, a verdict)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

Account = Literal["personal", "sponsored"]
Action = Literal["off", "log", "warn", "block"]  # what a rule does, per account kind
Outcome = Literal["pass", "log", "warn", "block"]  # what happens to a post: its strongest action

# Stronger actions win when several findings fire.
ACTION_RANK: dict[str, int] = {"off": 0, "log": 1, "warn": 2, "block": 3}
ACCOUNTS: tuple[Account, ...] = ("personal", "sponsored")


@dataclass(frozen=True)
class ImageInput:
    """An image attached to a post: its bytes and a name to cite (file name or upload field)."""

    name: str
    data: bytes


@dataclass(frozen=True)
class Post:
    """One submission: text, links, images and where it goes.

    `account` forces the account kind; when None it is decided from `target`/`site` against
    the policy's registry of sponsored sites. `kind` is post/comment/reply/message, or
    `connection` (accepting a friend/follow invitation from `counterpart`) or `create_page` /
    `create_group` (setting up a page or group named `text`, with `settings`).
    """

    text: str = ""
    account: Account | None = None
    site: str | None = None
    target: str | None = None
    links: tuple[str, ...] = ()
    images: tuple[ImageInput, ...] = ()
    kind: str = "post"
    counterpart: str | None = None
    settings: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Finding:
    """One clause a post would break, with the evidence and a fix where one exists."""

    rule: str
    clause: str
    message: str
    reason: str
    score: float
    action: Action
    span: tuple[int, int] | None = None
    excerpt: str | None = None
    link: str | None = None
    image: str | None = None
    fix: str | None = None
    fix_text: str | None = None
    category: str | None = None  # the rule's sub-category (docs/policy-taxonomy.md)
    what: str | None = None  # its phrase: "a veiled threat"

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (spans as lists, absent fields dropped)."""
        d = {k: v for k, v in asdict(self).items() if v is not None}
        if self.span is not None:
            d["span"] = list(self.span)
        return d


@dataclass(frozen=True)
class Verdict:
    """The checker's answer for one post."""

    account: Account
    findings: tuple[Finding, ...]
    policy_digest: str
    sponsored_site: str | None = None

    @property
    def fired(self) -> list[str]:
        """Rule ids that fired, sorted, each once (findings with action `off` excluded)."""
        return sorted({f.rule for f in self.findings if f.action != "off"})

    @property
    def action(self) -> Outcome:
        """The strongest action among the findings (`pass` when none)."""
        best: Outcome = "pass"
        for f in self.findings:
            if f.action != "off" and (best == "pass" or ACTION_RANK[f.action] > ACTION_RANK[best]):
                best = f.action
        return best

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {
            "account": self.account,
            "action": self.action,
            "fired": self.fired,
            "findings": [f.to_dict() for f in self.findings if f.action != "off"],
            "policy_digest": self.policy_digest,
            "sponsored_site": self.sponsored_site,
        }
