"""From an inspection to an outcome: what the log records and what the client is answered."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from checker import Verdict
from checker.settings import FailMode
from enforce.inspect import Inspection
from proxy_addon.extract import Submission

# How the submission reached us: an HTTP request (a page can be shown), a websocket message
# (it can only be dropped), or the extension's check (the panel in the page shows the warning).
Channel = Literal["http", "websocket", "extension"]
# The log's actions (store.event.ACTIONS) that a decision can produce.
LogAction = Literal["passed", "logged", "warned", "blocked", "error"]
# What the client gets instead of the site's answer: None = the request goes on unchanged.
Reply = Literal["warn", "block", "error", "drop"]


@dataclass(frozen=True)
class Outcome:
    """The decision on one submission."""

    submission: Submission | None
    verdict: Verdict | None
    log: LogAction | None           # the event to record (None: nothing to record)
    reply: Reply | None             # how the client is answered (None: forwarded)
    error: str | None = None        # why it could not be checked, or what was not shown

    @property
    def proxy_action(self) -> str:
        """One word for what the proxy does: forward, warn, block, drop or error."""
        return self.reply or "forward"


def fail_mode_for(submission: Submission | None, fail_mode: FailMode, posting_fail_mode: FailMode,
                  endpoint: str | None = None) -> FailMode:
    """The fail mode that applies: a known posting endpoint's own (`posting_fail_mode`), else
    the general one."""
    known = endpoint or (submission.endpoint if submission is not None else None)
    return posting_fail_mode if known else fail_mode


def failed(reason: str, fail_mode: FailMode, channel: Channel = "http",
           submission: Submission | None = None, verdict: Verdict | None = None) -> Outcome:
    """A submission that could not be checked: logged as an error, then the fail mode decides."""
    reply: Reply | None = None
    if fail_mode == "block":
        reply = "drop" if channel == "websocket" else "error"
    return Outcome(submission, verdict, "error", reply, reason)


def decide(inspection: Inspection, channel: Channel, *, log_passed: bool, fail_mode: FailMode = "pass",
           posting_fail_mode: FailMode = "block") -> Outcome:
    """The outcome of an inspection on `channel`; `log_passed`: record clean submissions too.

    An inspection with an error (a body that did not parse, text past the checker's limit) is
    decided by what its readable text gives when that warns or blocks, else by the fail mode:
    `posting_fail_mode` on a known posting endpoint, `fail_mode` elsewhere."""
    sub, v = inspection.submission, inspection.verdict
    if not inspection.is_submission:
        return Outcome(None, None, None, None)
    assert sub is not None
    if inspection.error is not None:
        if v is not None and v.action in ("warn", "block"):
            out = _by_verdict(sub, v, channel, log_passed)
            return Outcome(out.submission, out.verdict, out.log, out.reply,
                           f"{inspection.error}; {out.error}" if out.error else inspection.error)
        return failed(inspection.error, fail_mode_for(sub, fail_mode, posting_fail_mode), channel, sub, v)
    if v is None:
        return Outcome(sub, None, "logged", None, f"unreadable: {sub.unreadable}")
    return _by_verdict(sub, v, channel, log_passed)


def _by_verdict(sub: Submission, v: Verdict, channel: Channel, log_passed: bool) -> Outcome:
    action = v.action
    if action == "pass":
        return Outcome(sub, v, "passed" if log_passed else None, None)
    if action == "log":
        return Outcome(sub, v, "logged", None)
    if channel == "websocket":
        # No page can be shown inside a websocket: a warning is logged (the extension warns
        # in the page); only a block drops the message.
        if action == "block":
            return Outcome(sub, v, "blocked", "drop")
        return Outcome(sub, v, "logged", None, "warning not shown: websocket message")
    if action == "warn":
        return Outcome(sub, v, "warned", "warn")
    return Outcome(sub, v, "blocked", "block")
