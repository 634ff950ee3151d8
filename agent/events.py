"""The agent's own events in the device's chain: `agent-start` and `agent-stop` (a clean stop),
`policy-updated` (a signed policy bundle was installed) and `policy-refused` (a bundle was not:
bad or missing signature, tampered, a rollback, or a policy that does not load; the reason is in
`error`, and the last good policy stays).

A start after a crash or power loss has no `agent-stop` before it, which is how IT tells a clean
stop from a killed agent in the log.
"""

from __future__ import annotations

import time
from typing import Any

from store.event import iso, new_uid

AGENT_START, AGENT_STOP = "agent-start", "agent-stop"
POLICY_UPDATED, POLICY_REFUSED = "policy-updated", "policy-refused"
KINDS = (AGENT_START, AGENT_STOP, POLICY_UPDATED, POLICY_REFUSED)


def agent_event(kind: str, device: str, policy_digest: str | None, detail: str | None = None,
                now: float | None = None) -> dict[str, Any]:
    """The row of one agent event, ready for the writer to chain (no employee, no content)."""
    if kind not in KINDS:
        raise ValueError(f"agent event kind: one of {', '.join(KINDS)}")
    now = time.time() if now is None else now
    return {"uid": new_uid(now), "ts": iso(now), "device": device, "employee": None, "source": "agent",
            "site": None, "url": None, "account": None, "target": None, "kind": kind, "action": "logged",
            "rules": "", "findings": "[]", "justification": None, "content_mode": "none", "content": None,
            "content_hash": None, "policy_digest": policy_digest,
            "error": (detail or None) and detail[:500], "request_id": None}
