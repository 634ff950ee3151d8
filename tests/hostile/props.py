"""The properties every hostile request must keep, written once for tests/hostile and bench/fuzz:
nothing raises; a submission always ends in an outcome with an event; an inspection with an
error ends in the fail mode (a known posting endpoint's: block) unless the text it could read
warns or blocks; a violation in a body whose structure a server still reads (padding, a
Content-Encoding, base64) is stopped."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from enforce import Inspection, Outcome, decide, inspect_request


def outcome(policy: Any, method: str, url: str, headers: Mapping[str, str], body: bytes
            ) -> tuple[Inspection, Outcome]:
    """What the proxy's check worker decides for one request with the policy's fail modes."""
    found = inspect_request(method, url, headers, body, policy, max_bytes=policy.settings.max_body_bytes)
    return found, decide(found, "http", log_passed=True, fail_mode=policy.settings.fail_mode,
                         posting_fail_mode=policy.settings.posting_fail_mode)


def structure_kept(mutation: str) -> bool:
    """Mutations after which the site's server still reads the post (so must we)."""
    steps = [s for s in mutation.split("+") if s and not s.startswith("ce:")]
    return all(s == "pad" for s in steps) or steps == ["base64"]


def broken(found: Inspection, out: Outcome, *, violating: bool = False, mutation: str = "") -> list[str]:
    """The properties `found`/`out` break (empty: none)."""
    bad = []
    if found.is_submission and out.log is None:
        bad.append("a submission without an event")
    if found.error is not None and found.submission is not None:
        if out.log == "error":  # not decided by a warn/block on the text it could read
            if (out.reply == "error") != (found.submission.endpoint is not None):
                bad.append(f"error outcome not in the endpoint's fail mode ({out.reply})")
        elif out.log not in ("warned", "blocked"):
            bad.append(f"an unreadable body decided {out.log}, not by the fail mode")
    if violating and structure_kept(mutation) and out.reply not in ("block", "error"):
        bad.append(f"a violation got through ({out.log}/{out.proxy_action})")
    return bad
