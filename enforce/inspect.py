"""Extract-then-check, written once: what a request (or websocket message, or the extension's
post) publishes, and the checker's verdict on it."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from checker import Policy, Post, Verdict, check
from proxy_addon.extract import Submission, as_post, extract, extract_websocket

Checker = Callable[[Post, Policy], Verdict]


@dataclass(frozen=True)
class Inspection:
    """A request looked at: `submission` None = not a submission; `verdict` None = unreadable."""

    submission: Submission | None
    verdict: Verdict | None

    @property
    def is_submission(self) -> bool:
        """True when the request publishes something (a post, comment, message, upload...)."""
        return self.submission is not None and self.submission.kind is not None


NOT_A_SUBMISSION = Inspection(None, None)


def _checked(sub: Submission | None, policy: Policy, checker: Checker) -> Inspection:
    if sub is None or sub.kind is None:
        return NOT_A_SUBMISSION
    if sub.unreadable:
        return Inspection(sub, None)
    return Inspection(sub, checker(as_post(sub), policy))


def inspect_request(method: str, url: str, headers: Mapping[str, str], body: bytes, policy: Policy, *,
                    max_bytes: int, checker: Checker = check) -> Inspection:
    """Extract and check one HTTP request. Raises BodyError (unreadable body) or InputError."""
    return _checked(extract(method, url, headers, body, policy, max_bytes=max_bytes), policy, checker)


def inspect_websocket(url: str, message: bytes, policy: Policy, *, checker: Checker = check) -> Inspection:
    """Extract and check one message a client sent on a websocket."""
    return _checked(extract_websocket(url, message, policy), policy, checker)


def inspect_post(post: Post, policy: Policy, *, checker: Checker = check) -> Verdict:
    """Check a post the extension read from the page (nothing to extract)."""
    return checker(post, policy)
