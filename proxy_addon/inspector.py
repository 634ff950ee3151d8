"""The hooks that see submissions to social hosts: size limits, the check, and acting on it."""

from __future__ import annotations

import dataclasses
import logging
from typing import Any

from mitmproxy import http, tls

from checker import InputError
from enforce import Outcome, content_key, decide, fail_mode_for, failed, findings_json
from proxy_addon import pages
from proxy_addon.eventlog import record, record_attempt
from proxy_addon.extract import BodyError, posting_endpoint
from proxy_addon.responses import respond
from proxy_addon.state import State
from proxy_addon.worker import WorkerGone

log = logging.getLogger("postguard.proxy")

BODYLESS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE", "CONNECT"})
ATTEMPT_EVERY_SECONDS = 300.0  # one "could not inspect" event per social host in this long


def _failure(e: Exception, timeout: float) -> str:
    """What the log says of a check that did not finish."""
    if isinstance(e, TimeoutError):
        return f"check timed out after {timeout * 1000:.0f} ms"
    if isinstance(e, BodyError):
        return f"unreadable body: {e}"
    if isinstance(e, InputError):
        return f"checker refused the post: {e}"
    if isinstance(e, WorkerGone):  # it is started again on the next post
        return str(e)
    log.error("postguard check failed", exc_info=e)  # a checker bug must not break browsing silently
    return f"checker error: {type(e).__name__}"


class Inspector:
    """Checks post submissions to social hosts and acts on the outcome."""

    def __init__(self, state: State) -> None:
        """Shares the add-on's state."""
        self.state = state
        self._attempts: dict[str, float] = {}  # host -> when its last failed interception was logged

    def tls_failed_client(self, data: tls.TlsData) -> None:
        """A client refused the proxy's certificate for a social host (a pinning app, or a browser
        that does not trust the CA): nothing it sends can be checked, and the connection fails,
        so it is blocked; the attempt is logged (once per host every few minutes)."""
        st = self.state
        host = (data.context.client.sni or "").lower().rstrip(".")
        if not host or st.policy is None or not st.is_social(host):
            return
        now = st.clock()
        if now - self._attempts.get(host, -ATTEMPT_EVERY_SECONDS) < ATTEMPT_EVERY_SECONDS:
            return
        if len(self._attempts) > 4096:
            self._attempts.clear()
        self._attempts[host] = now
        why = str(data.conn.error or "handshake failed")[:200]
        record_attempt(st, host, f"connection to a social host not inspected: the client refused the "
                                 f"proxy's certificate ({why}); nothing sent on it reached the site",
                       data.context.client)

    def _ours(self, flow: http.HTTPFlow) -> bool:
        req = flow.request
        # A flow the override endpoint answered or replayed already has its decision.
        return (flow.response is None and flow.live and self.state.policy is not None
                and "postguard" not in flow.metadata and self.state.is_social(req.pretty_host, req.path))

    async def requestheaders(self, flow: http.HTTPFlow) -> None:
        """Refuse oversized bodies to social hosts before they are read (413)."""
        if not self._ours(flow):
            return
        h = flow.request.headers
        if "content-length" in h:
            try:
                size = int(h["content-length"])
            except ValueError:
                size = -1
            if size > self.state.settings.max_body:
                await self._too_large(flow, size)
        elif "chunked" in h.get("transfer-encoding", "").lower():
            flow.metadata["postguard_size_unknown"] = True  # checked in `request` once read

    async def request(self, flow: http.HTTPFlow) -> None:
        """Check a submission to a social host and act on the policy's verdict."""
        if not self._ours(flow):
            return
        st, req = self.state, flow.request
        body = req.raw_content or b""
        if req.method in BODYLESS and not body:
            return
        # HTTP/2 and chunked bodies may come without Content-Length: check what was read.
        if len(body) > st.settings.max_body:
            await self._too_large(flow, len(body))
            return
        assert st.policy is not None
        try:
            found = await st.checks.request(req.method, req.pretty_url, dict(req.headers), body, st.policy,
                                            st.settings.max_body, st.settings.timeout)
        except Exception as e:
            # Timed out, worker gone, checker bug: a known posting endpoint has its own fail mode.
            mode = fail_mode_for(None, st.settings.fail_mode, st.settings.posting_fail_mode,
                                 posting_endpoint(req.method, req.pretty_url))
            await self._fail(flow, failed(_failure(e, st.settings.timeout), mode))
            return
        out = decide(found, "http", log_passed=st.settings.log_passed, fail_mode=st.settings.fail_mode,
                     posting_fail_mode=st.settings.posting_fail_mode)
        if out.log == "error":
            await self._fail(flow, out)
            return
        await self._act(flow, out)

    async def websocket_message(self, flow: http.HTTPFlow) -> None:
        """Chat sent over a websocket (Messenger, Instagram DMs): block drops it, the rest is logged."""
        assert flow.websocket is not None
        st = self.state
        msg = flow.websocket.messages[-1]
        if not msg.from_client or st.policy is None or not st.is_social(flow.request.pretty_host):
            return
        # A chat websocket to a social host is a posting channel: its failures follow the posting
        # fail mode (a message that cannot be checked is dropped by default, and logged).
        mode = st.settings.posting_fail_mode
        if len(msg.content) > st.settings.max_body:
            out = failed(f"websocket message of {len(msg.content):,} bytes exceeds the limit of "
                         f"{st.settings.max_body:,}", mode, "websocket")
        else:
            try:
                found = await st.checks.websocket(flow.request.pretty_url, msg.content, st.policy, st.settings.timeout)
            except Exception as e:  # timeout, unreadable or checker error: the fail mode decides
                out = failed(f"websocket message: {_failure(e, st.settings.timeout)}"[:300], mode, "websocket")
            else:
                out = decide(found, "websocket", log_passed=st.settings.log_passed,
                             fail_mode=st.settings.fail_mode, posting_fail_mode=mode)
        await record(st, flow, out)
        if out.reply == "drop":
            msg.drop()

    async def _act(self, flow: http.HTTPFlow, out: Outcome) -> None:
        sub, v = out.submission, out.verdict
        if sub is None:
            return
        if v is None:
            await record(self.state, flow, out)
            flow.metadata["postguard"] = {"action": "logged", "unreadable": sub.unreadable, "site": sub.site}
            return
        meta: dict[str, Any] = {"action": v.action, "fired": v.fired, "site": sub.site, "kind": sub.kind,
                                "spec": sub.spec, "account": v.account}
        flow.metadata["postguard"] = meta
        if out.reply is None:
            await record(self.state, flow, out)
            return
        st = self.state
        client = str(flow.client_conn.peername[0]) if flow.client_conn.peername else ""
        key = content_key(sub.site, sub.target, sub.texts, sub.links, sub.images, client)
        token = ""
        if out.reply == "warn":
            if st.overrides.consume(key):
                meta["action"] = "overridden"
                await record(st, flow, out, action="passed")
                return
            req = flow.request
            # Only a page navigation is replayed by the proxy; a script resends its own request.
            original = ((req.method, req.url, list(req.headers.fields), req.raw_content or b"")
                        if pages.is_navigation(req.headers) else None)
            token = st.overrides.add_pending(
                key, req.pretty_host, {"sub": dataclasses.replace(sub, images=[]), "verdict": v,
                                       "url": req.pretty_url}, original)
            meta["token"] = token
        await record(st, flow, out, request_id=token or None)
        respond(st, flow, v.action, findings_json(v), sub.text, token, v.policy_digest)

    async def _too_large(self, flow: http.HTTPFlow, size: int) -> None:
        err = f"request body of {size:,} bytes exceeds the limit of {self.state.settings.max_body:,}"
        flow.metadata["postguard"] = {"action": "blocked", "error": err}
        await record(self.state, flow, Outcome(None, None, "blocked", "block", err))
        respond(self.state, flow, "too_large", [], "", "", "", status=413, error=err)

    async def _fail(self, flow: http.HTTPFlow, out: Outcome) -> None:
        """Could not be checked (in full): the error event (with what text could be read, redacted
        by the log) and the fail mode's answer."""
        sub, v = out.submission, out.verdict
        flow.metadata["postguard"] = {"action": "error", "error": out.error,
                                      "fail_mode": "block" if out.reply else "pass",
                                      **({"site": sub.site, "kind": sub.kind, "spec": sub.spec} if sub else {}),
                                      **({"fired": v.fired} if v is not None else {})}
        await record(self.state, flow, out)
        if out.reply == "error":
            respond(self.state, flow, "error", findings_json(out.verdict), "", "", "", status=503,
                    error=out.error or "")
