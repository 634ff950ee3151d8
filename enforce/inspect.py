"""Extract-then-check, written once: what a request (or websocket message, or the extension's
post) publishes, and the checker's verdict on it.

A body that cannot be parsed is not the end of it: its raw bytes are scanned for text
(`proxy_addon.extract.salvage`), that text is checked, and the inspection carries the error, so
`decide` applies the fail mode with the findings and the text in the event. Text past the
checker's limit is checked in windows and is an error too (the fail mode applies).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace

from checker import InputError, Policy, Post, Verdict, check
from checker.engine import MAX_TEXT_CHARS
from proxy_addon.extract import (
    BodyError,
    Submission,
    as_post,
    extract,
    extract_websocket,
    salvage,
)

Checker = Callable[[Post, Policy], Verdict]

# How much of an over-long text is still checked (in windows of the checker's limit): a post
# past the limit is an error whatever it says, but what it says can still block it.
MAX_CHECKED_CHARS = 3 * MAX_TEXT_CHARS
_ACTION_RANK = {"pass": 0, "log": 1, "warn": 2, "block": 3}


@dataclass(frozen=True)
class Inspection:
    """A request looked at: `submission` None = not a submission; `verdict` None = unreadable
    (or nothing to check); `error`: why it could not be read or checked in full."""

    submission: Submission | None
    verdict: Verdict | None
    error: str | None = None

    @property
    def is_submission(self) -> bool:
        """True when the request publishes something (a post, comment, message, upload...)."""
        return self.submission is not None and self.submission.kind is not None


NOT_A_SUBMISSION = Inspection(None, None)


def _windows(text: str) -> list[str]:
    """Pieces of at most MAX_TEXT_CHARS characters, cut at a line or space where there is one."""
    out, pos = [], 0
    while pos < len(text) and pos < MAX_CHECKED_CHARS:
        end = min(len(text), pos + MAX_TEXT_CHARS)
        if end < len(text):
            cut = max(text.rfind("\n", pos, end), text.rfind(" ", pos, end))
            end = cut + 1 if cut > pos + MAX_TEXT_CHARS // 2 else end
        out.append(text[pos:end])
        pos = end
    return out


def _checked(sub: Submission | None, policy: Policy, checker: Checker, error: str | None = None) -> Inspection:
    if sub is None or sub.kind is None:
        return NOT_A_SUBMISSION
    if sub.unreadable:
        return Inspection(sub, None)
    error = error or sub.error
    text = sub.text
    if len(text) <= MAX_TEXT_CHARS:
        if error and not text.strip() and not sub.links:
            return Inspection(sub, None, error)  # nothing readable to check
        try:
            return Inspection(sub, checker(as_post(sub), policy), error)
        except InputError as e:
            return Inspection(sub, None, f"checker refused the post: {e}")
    # Longer than any site takes in one post: an error whatever it says; still, check what it
    # says, window by window, and keep the strictest verdict.
    worst: Verdict | None = None
    for piece in _windows(text):
        try:
            v = checker(as_post(replace(sub, texts=[piece], images=[] if worst else sub.images)), policy)
        except InputError:
            continue
        if worst is None or _ACTION_RANK.get(v.action, 0) > _ACTION_RANK.get(worst.action, 0):
            worst = v
    why = f"text of {len(text):,} characters is over the checker's limit of {MAX_TEXT_CHARS:,}"
    return Inspection(sub, worst, f"{error}; {why}" if error else why)


def inspect_request(method: str, url: str, headers: Mapping[str, str], body: bytes, policy: Policy, *,
                    max_bytes: int, checker: Checker = check) -> Inspection:
    """Extract and check one HTTP request. A body that cannot be parsed gives an inspection
    with `error` set and the text scanned from its raw bytes checked. Raises InputError only
    for a post the checker refuses outright."""
    try:
        sub = extract(method, url, headers, body, policy, max_bytes=max_bytes)
    except BodyError as e:
        if len(body) > max_bytes:
            raise  # over the size limit: the caller refuses it before reading (413)
        sub = salvage(method, url, headers, body, f"unreadable body: {e}", max_bytes=max_bytes)
        if not sub.site:
            raise  # a malformed URL: nothing to attribute the post to (extract checked the host)
    return _checked(sub, policy, checker)


def inspect_websocket(url: str, message: bytes, policy: Policy, *, checker: Checker = check) -> Inspection:
    """Extract and check one message a client sent on a websocket."""
    return _checked(extract_websocket(url, message, policy), policy, checker)


def inspect_post(post: Post, policy: Policy, *, checker: Checker = check) -> Verdict:
    """Check a post the extension read from the page (nothing to extract)."""
    return checker(post, policy)
