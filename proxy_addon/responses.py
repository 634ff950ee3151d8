"""What the proxy answers in place of the site: the warning page or JSON, and its CORS headers."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from mitmproxy import http

from proxy_addon import pages
from proxy_addon.extract import is_social_host
from proxy_addon.state import State


def respond(state: State, flow: http.HTTPFlow, kind: str, findings: list[dict[str, Any]], text: str,
            token: str, digest: str, *, status: int = 403, error: str = "",
            override_error: str = "", justification: str = "") -> None:
    """Answer `flow` with a page (a navigation) or JSON (a script's request)."""
    policy = state.policy
    assert policy is not None
    req = flow.request
    if pages.is_navigation(req.headers):
        body = pages.render_html(
            kind, notice=policy.data.notice, clauses=policy.data.clauses, findings=findings,
            text=text, token=token, min_chars=policy.settings.justification_min_chars, back_url=back_url(flow),
            override_error=override_error, justification=justification, digest=digest)
        flow.response = pages.html_response(status, body)
        return
    payload: dict[str, Any] = {"action": kind, "findings": findings, "notice": policy.data.notice,
                               "policy_digest": digest or policy.digest}
    if error:
        payload["error"] = error
    if kind == "warn" and token:
        payload.update(token=token, justification_min_chars=policy.settings.justification_min_chars,
                       override_url=f"{req.scheme}://{req.pretty_host}{pages.OVERRIDE_PATH}",
                       override_window_seconds=int(state.overrides.window))
    if override_error:
        payload["override_error"] = override_error
    flow.response = pages.json_response(status, payload)
    allow_social_origin(state, flow)


def allow_social_origin(state: State, flow: http.HTTPFlow) -> None:
    """Let a social site's own page read our JSON answer to its cross-origin post (e.g. a page
    on www.reddit.com posting to oauth.reddit.com): without CORS headers the page, and the
    extension's fetch wrapper inside it, would only see a network error."""
    assert state.policy is not None and flow.response is not None
    origin = flow.request.headers.get("origin", "")
    host = urlsplit(origin).hostname or ""
    if origin.startswith("https://") and host and is_social_host(host, state.policy):
        flow.response.headers["Access-Control-Allow-Origin"] = origin
        flow.response.headers["Access-Control-Allow-Credentials"] = "true"
        flow.response.headers["Access-Control-Expose-Headers"] = "X-Postguard"
        flow.response.headers["Vary"] = "Origin"


def back_url(flow: http.HTTPFlow) -> str:
    """Where "Go back and edit" leads: the referring page on the same site only (no open redirect)."""
    ref = flow.request.headers.get("referer", "")
    s = urlsplit(ref)
    if s.scheme in ("http", "https") and s.hostname == flow.request.pretty_host.lower():
        return ref
    return "/"
