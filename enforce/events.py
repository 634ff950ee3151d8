"""The event an outcome leaves in the interception log, built the same way for every source."""

from __future__ import annotations

from typing import Any

from checker import Policy, Verdict
from checker.redact import redact
from store.config import StoreConfig
from store.event import Event, scrub_url


def log_config(policy: Policy) -> StoreConfig:
    """What the log keeps under this policy: its content mode, retention and redaction."""
    return StoreConfig(policy.settings.content, policy.settings.retention_days,
                       lambda text: redact(text, policy))


def findings_json(verdict: Verdict | None) -> list[dict[str, Any]]:
    """Findings as logged and shown: JSON-ready, rules switched off left out."""
    return [] if verdict is None else [f.to_dict() for f in verdict.findings if f.action != "off"]


def event_for(source: str, action: str, verdict: Verdict | None, *, policy_digest: str, site: str | None,
              url: str | None = None, target: str | None = None, kind: str | None = None,
              text: str | None = None, account: str | None = None, justification: str | None = None,
              error: str | None = None, request_id: str | None = None, device: str | None = None,
              employee: str | None = None, staff: str | None = None, staff_source: str | None = None) -> Event:
    """One log event. With a verdict, its account, findings and policy digest are what is logged."""
    return Event(
        source=source, action=action, site=site, url=scrub_url(url),
        account=verdict.account if verdict is not None else account, target=target, kind=kind,
        findings=findings_json(verdict), text=text, justification=justification,
        policy_digest=verdict.policy_digest if verdict is not None else policy_digest,
        device=device or None, employee=employee or None, error=error, request_id=request_id,
        staff=staff or None, staff_source=staff_source if staff else None)
