"""The "Post anyway" endpoint: a justified override of a warning, then the post goes on once."""

from __future__ import annotations

import json
from typing import Any

from mitmproxy import http

from checker import Verdict
from enforce import Outcome, findings_json, justification_error
from proxy_addon import pages
from proxy_addon.eventlog import record
from proxy_addon.extract import Submission
from proxy_addon.responses import respond
from proxy_addon.state import State

MAX_OVERRIDE_BODY = 64 * 1024


def _user_navigation(req: http.Request) -> bool:
    """A form the person submitted themselves: a top-level navigation, with user activation and
    from the same origin where the browser says so (Sec-Fetch-* cannot be set by a script)."""
    h = req.headers
    if not pages.is_navigation(h):
        return False
    if h.get("sec-fetch-mode") and h.get("sec-fetch-user", "") != "?1":
        return False  # a script's form.submit() has no user activation
    if h.get("sec-fetch-dest", "document").lower() != "document":
        return False  # not in a frame (the warning page refuses framing anyway)
    return h.get("sec-fetch-site", "same-origin").lower() in ("same-origin", "none")


def _token_and_reason(req: http.Request, as_json: bool) -> tuple[str, str]:
    if req.method != "POST" or len(req.raw_content or b"") > MAX_OVERRIDE_BODY:
        return "", ""
    try:
        if as_json:
            data = json.loads(req.get_content() or b"{}")
            return str(data.get("token", "")), str(data.get("justification", "")).strip()
        form = req.urlencoded_form
        return form.get("token", ""), form.get("justification", "").strip()
    except (ValueError, AttributeError):
        return "", ""


class OverrideEndpoint:
    """Answers `pages.OVERRIDE_PATH` on every social host before any check runs."""

    def __init__(self, state: State) -> None:
        """Shares the add-on's state."""
        self.state = state

    async def request(self, flow: http.HTTPFlow) -> None:
        """Record a justified override (durable before the answer or the replay); replay a form
        post, or let a script retry its request."""
        st = self.state
        req = flow.request
        if (flow.response or not flow.live or st.policy is None
                or req.path.split("?", 1)[0] != pages.OVERRIDE_PATH or not st.is_social(req.pretty_host, req.path)):
            return
        as_json = "json" in req.headers.get("content-type", "").lower()
        token, justification = _token_and_reason(req, as_json)
        allowed = st.settings.override_origins
        origin = req.headers.get("origin", "")
        if as_json and allowed and origin not in allowed:
            return self._refuse(flow, "overrides are accepted from the postguard extension only")
        if not as_json and (not _user_navigation(req)
                            # "null": the warning page sends no referrer, so the browser's form post says null
            or (origin and origin not in (*allowed, "null", f"https://{req.pretty_host}"))):
            # A form override is the warning page's own button, pressed by the person.
            return self._refuse(flow, "a form override must come from the warning page, submitted by you")
        pending = st.overrides.get_pending(token, req.pretty_host) if token else None
        if pending is not None and not as_json and pending.request is None:
            # The token went to a script (a JSON warning): only the extension may use it, never a
            # form a page script builds from it.
            return self._refuse(flow, "this warning can be overridden from the postguard extension only")
        if pending is None:
            flow.metadata["postguard"] = {"action": "override-rejected"}
            respond(st, flow, "expired", [], "", "", "", status=410,
                    error="this warning has expired or was already used; post again to have it checked")
            return
        sub: Submission = pending.event["sub"]
        v: Verdict = pending.event["verdict"]
        problem = justification_error(justification, st.policy.settings)
        if problem:
            respond(st, flow, "warn", findings_json(v), sub.text, token, v.policy_digest, status=400,
                    override_error=problem, justification=justification)
            return
        if st.overrides.grant(token, req.pretty_host) is None:
            respond(st, flow, "expired", [], "", "", "", status=410, error="this warning was already used")
            return
        await record(st, flow, Outcome(sub, v, "warned", "warn"), action="overridden",
                     justification=justification, request_id=token, url=pending.event.get("url"))
        flow.metadata["postguard"] = {"action": "overridden", "token": token, "fired": v.fired}
        if as_json or pending.request is None:
            flow.response = pages.json_response(200, {"action": "overridden", "token": token,
                                                      "override_window_seconds": int(st.overrides.window)})
            return
        self._replay(flow, pending.key, pending.request)

    def _refuse(self, flow: http.HTTPFlow, why: str) -> None:
        flow.metadata["postguard"] = {"action": "override-rejected", "error": why}
        flow.response = pages.json_response(403, {"action": "override-rejected", "error": why})

    def _replay(self, flow: http.HTTPFlow, key: str, original: Any) -> None:
        """A plain form post: send the original request on, once, in place of this one."""
        self.state.overrides.consume(key)
        method, url, fields, body = original
        req = flow.request
        req.method = method
        req.url = url
        req.headers = http.Headers(fields)
        req.raw_content = body
