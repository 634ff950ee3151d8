"""The agent's own events in the device's chain: `agent-start` and `agent-stop` (a clean stop),
`policy-updated` (a signed policy bundle was installed) and `policy-refused` (a bundle was not:
bad or missing signature, tampered, a rollback, or a policy that does not load; the reason is in
`error`, and the last good policy stays).

A start after a crash or power loss has no `agent-stop` before it, which is how IT tells a clean
stop from a killed agent in the log. On a computer enrolled with `--user`, each names that staff
member (source `enrolment`): the server's Devices page shows whom the computer is assigned to.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from store.event import check_staff, iso, new_uid

log = logging.getLogger("postguard.agent")
AGENT_START, AGENT_STOP = "agent-start", "agent-stop"
POLICY_UPDATED, POLICY_REFUSED = "policy-updated", "policy-refused"
KINDS = (AGENT_START, AGENT_STOP, POLICY_UPDATED, POLICY_REFUSED)


def agent_event(kind: str, device: str, policy_digest: str | None, detail: str | None = None,
                now: float | None = None, user: str | None = None) -> dict[str, Any]:
    """The row of one agent event, ready for the writer to chain (no employee, no content). `user`:
    the computer's assigned staff member (`agent enroll --user`), named as staff with source
    `enrolment`, so the server knows who the computer is assigned to from the agent's start on."""
    if kind not in KINDS:
        raise ValueError(f"agent event kind: one of {', '.join(KINDS)}")
    now = time.time() if now is None else now
    staff = source = None
    if user:
        try:
            staff, source = check_staff(user, "enrolment")
        except ValueError as e:  # a device.json edited by hand: the event still goes, naming no one
            log.warning("device.json's assigned user is not one (%s); the agent's events name no one", e)
    return {"uid": new_uid(now), "ts": iso(now), "device": device, "employee": None, "source": "agent",
            "site": None, "url": None, "account": None, "target": None, "kind": kind, "action": "logged",
            "rules": "", "findings": "[]", "justification": None, "content_mode": "none", "content": None,
            "content_hash": None, "policy_digest": policy_digest,
            "error": (detail or None) and detail[:500], "request_id": None, "staff": staff, "staff_source": source}
