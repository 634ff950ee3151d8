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


def failed(reason: str, fail_mode: FailMode, channel: Channel = "http",
           submission: Submission | None = None) -> Outcome:
    """A submission that could not be checked: logged as an error, then the fail mode decides."""
    reply: Reply | None = None
    if fail_mode == "block":
        reply = "drop" if channel == "websocket" else "error"
    return Outcome(submission, None, "error", reply, reason)


def decide(inspection: Inspection, channel: Channel, *, log_passed: bool) -> Outcome:
    """The outcome of an inspection on `channel`; `log_passed`: record clean submissions too."""
    sub, v = inspection.submission, inspection.verdict
    if not inspection.is_submission:
        return Outcome(None, None, None, None)
    assert sub is not None
    if v is None:
        return Outcome(sub, None, "logged", None, f"unreadable: {sub.unreadable}")
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
