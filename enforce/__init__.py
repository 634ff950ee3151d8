"""The one decision path: from a submission and a policy to an outcome and the event for the log.

No mitmproxy and no aiohttp here. The proxy add-on, the extension backend and `postguard replay`
(and the district server and agent) all call it, so a post gets the same decision everywhere:

- `inspect_request` / `inspect_websocket` / `inspect_post`: extract what a request publishes
  and check it (an `Inspection`);
- `decide`: the inspection, the channel it came on and the settings -> an `Outcome` (what the
  log records, what the client is answered); `failed` / `fail_mode_for`: the fail modes (a
  known posting endpoint has its own, `posting_fail_mode`, default block);
- `event_for`: the `store.Event` of an outcome; `findings_json`: findings as logged and shown;
  `log_config`: what the log keeps under a policy (content mode, retention, redaction);
- `Overrides` / `content_key`: warnings that may be overridden, single use, with expiry;
- `justification_error`, `ACTION_OF_CHOICE`: the rules of "Post anyway" and of the
  employee's choices reported by the extension.
"""

from enforce.choices import ACTION_OF_CHOICE, justification_error
from enforce.decide import Channel, LogAction, Outcome, Reply, decide, fail_mode_for, failed
from enforce.events import event_for, findings_json, log_config
from enforce.inspect import Inspection, inspect_post, inspect_request, inspect_websocket
from enforce.overrides import Overrides, Pending, content_key

__all__ = [
    "ACTION_OF_CHOICE", "Channel", "Inspection", "LogAction", "Outcome", "Overrides", "Pending", "Reply",
    "content_key", "decide", "event_for", "fail_mode_for", "failed", "findings_json", "inspect_post", "inspect_request",
    "inspect_websocket", "justification_error", "log_config",
]
