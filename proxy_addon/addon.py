"""The postguard mitmproxy add-on: check post submissions to social sites, then warn, block or log.

Hooks guard first (only live flows to social hosts), decide, then mark `flow.metadata["postguard"]`.
Extraction and the checker run on a small thread pool with the policy's timeout, so a slow
check never stalls the one event loop that serves every connection.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import pickle
import re
import sys
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from mitmproxy import ctx, exceptions, http

from checker import InputError, Policy, PolicyError, Post, Verdict, check, load_policy
from checker.neural import disable_encoders
from proxy_addon import pages
from proxy_addon.extract import (
    BodyError,
    Submission,
    as_post,
    extract,
    extract_websocket,
    is_social_host,
)
from proxy_addon.overrides import Overrides, content_key

log = logging.getLogger("postguard.proxy")

BODYLESS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE", "CONNECT"})
FAIL_MODES = ("pass", "block")


def social_hosts_regex(policy: Policy) -> str:
    """An `allow_hosts` regex matching the policy's social domains and their sub-domains."""
    hosts = sorted({h.strip().lower().rstrip(".") for h in policy.data.social["hosts"]})
    alts = "|".join(re.escape(h) for h in hosts)
    # mitmproxy matches "host:port" strings (address, Host header, SNI) with re.search.
    return rf"^(?:[^:]*\.)?(?:{alts})(?::\d+)?$"


def analyse(method: str, url: str, headers: Any, body: bytes, policy: Policy,
            checker: Callable[[Post, Policy], Verdict], max_bytes: int) -> tuple[Submission | None, Verdict | None]:
    """Extract and check one request. (None, None): not a submission; (sub, None): unreadable."""
    sub = extract(method, url, headers, body, policy, max_bytes=max_bytes)
    if sub is None or sub.kind is None:
        return None, None
    if sub.unreadable:
        return sub, None
    return sub, checker(as_post(sub), policy)


class WorkerGone(RuntimeError):
    """The check worker process exited (killed, out of memory) with requests in flight."""


# Exceptions the worker sends back by name, re-raised here so the fail mode sees their kind.
_WORKER_ERRORS: dict[str, type[Exception]] = {"BodyError": BodyError, "InputError": InputError}


class CheckWorker:
    """A child process running `analyse`, driven from the event loop over its stdin/stdout.

    mitmproxy's loop already saturates one core; the checker (~1-2 ms a post) runs on the
    other. Pipes are read by the loop itself: an executor's helper threads would fight the
    loop for the GIL on every request, which costs more than the check saves.
    """

    def __init__(self, policy_dir: str, encoder: bool = True) -> None:
        """Nothing starts until the first `analyse` (or `start`)."""
        self.policy_dir = policy_dir
        self.encoder = encoder  # False: the worker checks with rules + linear models only
        self.proc: asyncio.subprocess.Process | None = None
        self.pending: dict[int, asyncio.Future] = {}
        self._next = 0
        self._lock: asyncio.Lock | None = None
        self._reader: asyncio.Task | None = None

    async def start(self) -> None:
        """Start the process (once; again after it died) and wait until it has loaded the policy."""
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            if self.proc is not None and self.proc.returncode is None and self._reader and not self._reader.done():
                return
            self.proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "proxy_addon.main", "--check-worker", self.policy_dir,
                *([] if self.encoder else ["--no-encoder"]),
                stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, limit=1 << 26)
            assert self.proc.stdout
            if await self.proc.stdout.readexactly(4) != b"PGW1":
                raise WorkerGone("check worker did not start")
            self._reader = asyncio.create_task(self._read(self.proc))

    async def _read(self, proc: asyncio.subprocess.Process) -> None:
        assert proc.stdout
        try:
            while True:
                size = int.from_bytes(await proc.stdout.readexactly(4), "big")
                rid, ok, value = pickle.loads(await proc.stdout.readexactly(size))
                fut = self.pending.pop(rid, None)
                if fut is None or fut.done():
                    continue  # timed out meanwhile
                if ok:
                    fut.set_result(value)
                else:
                    name, msg = value
                    fut.set_exception(_WORKER_ERRORS.get(name, RuntimeError)(msg if name in _WORKER_ERRORS
                                                                            else f"{name}: {msg}"))
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        for fut in self.pending.values():
            if not fut.done():
                fut.set_exception(WorkerGone("check worker stopped unexpectedly"))
        self.pending.clear()

    async def analyse(self, method: str, url: str, headers: dict[str, str], body: bytes,
                      max_bytes: int, timeout: float) -> tuple[Submission | None, Verdict | None]:
        """The worker's (submission, verdict); raises TimeoutError after `timeout` seconds."""
        await self.start()
        assert self.proc and self.proc.stdin
        self._next += 1
        rid = self._next
        fut = asyncio.get_running_loop().create_future()
        self.pending[rid] = fut
        data = pickle.dumps((rid, (method, url, headers, body, max_bytes)), protocol=pickle.HIGHEST_PROTOCOL)
        self.proc.stdin.write(len(data).to_bytes(4, "big") + data)
        try:
            return await asyncio.wait_for(fut, timeout)
        finally:
            self.pending.pop(rid, None)

    def stop(self) -> None:
        """Stop the process (its stdin closes; it is killed if still running)."""
        if self.proc is not None:
            if self.proc.returncode is None:
                try:
                    self.proc.kill()
                except ProcessLookupError:
                    pass
            # Close the pipes now: left to the garbage collector they may outlive the loop.
            transport = getattr(self.proc, "_transport", None)
            if transport is not None:
                transport.close()
        self.proc = None


def _log_url(url: str) -> str:
    """The URL without query or fragment: queries carry tokens and ids the log does not need."""
    s = urlsplit(url)
    return urlunsplit((s.scheme, s.netloc, s.path, "", ""))


class PostguardAddon:
    """Checks post submissions to social hosts against the Board policy and acts on the verdict."""

    def __init__(self, *, policy: Policy | None = None, store: Any = None,
                 checker: Callable[[Post, Policy], Verdict] | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        """`policy`, `store` and `checker` may be injected (tests); otherwise options decide."""
        self._policy_injected = policy is not None
        self._store_injected = store is not None
        self.policy: Policy | None = policy
        self.store = store
        self._check = checker or check
        self.overrides = Overrides(600, clock)
        self._checker_injected = checker is not None
        self.pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="postguard-check")
        self.workers: list[CheckWorker] = []
        self.n_workers = 1
        self.encoder_on = True
        self._social_cache: dict[str, bool] = {}
        self.fail_mode = "pass"
        self.max_body = 10 * 1024 * 1024
        self.timeout = 2.0
        self.min_chars = 10

    # ---- options ---------------------------------------------------------------------------

    def load(self, loader: Any) -> None:
        """Declare postguard's options (0 or empty = take the value from the policy)."""
        loader.add_option("postguard_policy", str, "", "Policy folder (default: policies/region14).")
        loader.add_option("postguard_db", str, "",
                          "Interception log: SQLite path or postgresql:// URL (default: $POSTGUARD_DB "
                          "or ./var/postguard.sqlite).")
        loader.add_option("postguard_fail_mode", str, "",
                          "When a post cannot be checked (checker error, timeout, unreadable body): "
                          "pass (and log an error) or block. Empty: the policy's fail_mode.")
        loader.add_option("postguard_max_body_bytes", int, 0,
                          "Refuse (413) request bodies to social hosts above this. 0: the policy's value.")
        loader.add_option("postguard_override_window", int, 0,
                          "Seconds a warning can be overridden and the override stays valid. 0: the policy's.")
        loader.add_option("postguard_check_timeout_ms", int, 0,
                          "Give up checking a post after this many ms (then the fail mode applies). 0: policy.")
        loader.add_option("postguard_override_origins", Sequence[str], [],
                          "If set, a JSON (fetch) \"Post anyway\" must come with one of these Origin headers, "
                          "e.g. chrome-extension://<postguard extension id>, so a site's own scripts "
                          "cannot override a warning by themselves. Repeat for several.")
        loader.add_option("postguard_device", str, "", "Device id recorded with each event.")
        loader.add_option("postguard_employee", str, "", "Employee id recorded with each event.")
        loader.add_option("postguard_workers", int, 1,
                          "Processes that extract and check posts (0: threads inside the proxy process).")
        loader.add_option("postguard_encoder", bool, True,
                          "Check with the policy's text encoder (docs/models.md). false: rules and linear "
                          "models only, about 1.7 ms less CPU per checked post, less judgement.")
        loader.add_option("postguard_log_passed", bool, False,
                          "Also log clean submissions (action passed). Off by default: the log keeps "
                          "what the policy flagged, not every post an employee makes.")
        loader.add_option("postguard_social_only", bool, True,
                          "If neither allow_hosts nor ignore_hosts is set, set allow_hosts to the "
                          "policy's social hosts so nothing else is decrypted.")

    def configure(self, updated: set[str]) -> None:
        """Validate options once; raise OptionsError naming the bad value."""
        streaming = getattr(ctx.options, "stream_large_bodies", None) if "stream_large_bodies" in ctx.options \
            else None
        if streaming:
            raise exceptions.OptionsError(
                f"stream_large_bodies={streaming!r} cannot be used with postguard: "
                "bodies above it are sent upstream before they can be checked; use "
                "postguard_max_body_bytes to cap sizes instead")
        if not any(k.startswith("postguard_") for k in updated) and self.policy is not None:
            return
        opts = ctx.options
        if not self._policy_injected and ({"postguard_policy", "postguard_encoder"} & updated or self.policy is None):
            self.policy = self._load_policy(opts.postguard_policy)
            self._social_cache.clear()
            if not opts.postguard_encoder:
                disable_encoders(self.policy)
        assert self.policy is not None
        st = self.policy.settings
        fail = opts.postguard_fail_mode or st["fail_mode"]
        if fail not in FAIL_MODES:
            raise exceptions.OptionsError(f"postguard_fail_mode: must be pass or block (got {fail!r})")
        for name in ("postguard_max_body_bytes", "postguard_override_window", "postguard_check_timeout_ms",
                     "postguard_workers"):
            if getattr(opts, name) < 0:
                raise exceptions.OptionsError(f"{name}: must be 0 (policy value) or positive "
                                              f"(got {getattr(opts, name)!r})")
        self.fail_mode = fail
        if opts.postguard_workers != self.n_workers or {"postguard_policy", "postguard_encoder"} & updated:
            self._stop_workers()
        self.n_workers = opts.postguard_workers
        self.encoder_on = opts.postguard_encoder
        self.max_body = opts.postguard_max_body_bytes or int(st["max_body_bytes"])
        self.timeout = (opts.postguard_check_timeout_ms or int(st["check_timeout_ms"])) / 1000
        self.min_chars = int(st.get("justification_min_chars", 10))
        self.overrides.window = float(opts.postguard_override_window or st["override_window_seconds"])
        if not self._store_injected and ("postguard_db" in updated or self.store is None):
            self._open_store(opts.postguard_db)
        if opts.postguard_social_only and not opts.allow_hosts and not opts.ignore_hosts:
            # Nested update: mitmproxy runs configure again with {"allow_hosts"}; harmless.
            opts.update(allow_hosts=[social_hosts_regex(self.policy)])

    def _load_policy(self, folder: str) -> Policy:
        if folder and not Path(folder).is_dir():
            raise exceptions.OptionsError(f"postguard_policy: no such policy folder: {folder!r}")
        try:
            return load_policy(folder or None)
        except PolicyError as e:
            raise exceptions.OptionsError(f"postguard_policy: {e}") from None
        except OSError as e:
            raise exceptions.OptionsError(f"postguard_policy: {e.strerror}: {e.filename}") from None

    def _open_store(self, db: str) -> None:
        from store import open_store  # imported late: the store pulls in database drivers

        old = self.store
        try:
            self.store = open_store(db or None)
        except Exception as e:  # any driver/path error, named for the user
            raise exceptions.OptionsError(f"postguard_db: cannot open {db or 'the default log'!r}: {e}") from None
        if old is not None:
            old.close()

    def _worker(self) -> CheckWorker | None:
        """The least busy check worker, or None to check on threads in this process."""
        if self.n_workers <= 0 or self._checker_injected:
            return None
        if not self.workers:
            assert self.policy is not None
            self.workers = [CheckWorker(str(self.policy.data.path), self.encoder_on) for _ in range(self.n_workers)]
        return min(self.workers, key=lambda w: len(w.pending))

    def _stop_workers(self) -> None:
        for w in self.workers:
            w.stop()
        self.workers = []

    async def running(self) -> None:
        """Start the check workers with the proxy, not on the first post."""
        if self._worker() is not None:
            await asyncio.gather(*(w.start() for w in self.workers), return_exceptions=True)

    def done(self) -> None:
        """Flush the log and stop the check threads and processes."""
        self.pool.shutdown(wait=False, cancel_futures=True)
        self._stop_workers()
        if self.store is not None and not self._store_injected:
            self.store.close()

    # ---- hooks -----------------------------------------------------------------------------

    def _is_social(self, host: str, path: str | None = None) -> bool:
        host = host.lower().rstrip(".")
        hit = self._social_cache.get(host)
        if hit is None:
            hit = bool(is_social_host(host, self.policy))
            if len(self._social_cache) > 4096:
                self._social_cache.clear()
            self._social_cache[host] = hit
        # Mastodon and Bluesky run on any host: their API paths make a host social.
        return hit or (path is not None and is_social_host(host, self.policy, path.split("?", 1)[0]))

    def requestheaders(self, flow: http.HTTPFlow) -> None:
        """Refuse oversized bodies to social hosts before they are read (413)."""
        req = flow.request
        if flow.response or not flow.live or self.policy is None or not self._is_social(req.pretty_host, req.path):
            return
        h = flow.request.headers
        if "content-length" in h:
            try:
                size = int(h["content-length"])
            except ValueError:
                size = -1
            if size > self.max_body:
                self._too_large(flow, size)
        elif "chunked" in h.get("transfer-encoding", "").lower():
            flow.metadata["postguard_size_unknown"] = True  # checked in `request` once read

    async def request(self, flow: http.HTTPFlow) -> None:
        """Check a submission to a social host and act on the policy's verdict."""
        if flow.response or not flow.live or self.policy is None:
            return
        req = flow.request
        if not self._is_social(req.pretty_host, req.path):
            return
        if req.path.split("?", 1)[0] == pages.OVERRIDE_PATH:
            self._override(flow)
            return
        body = req.raw_content or b""
        if req.method in BODYLESS and not body:
            return
        # HTTP/2 and chunked bodies may come without Content-Length: check what was read.
        if len(body) > self.max_body:
            self._too_large(flow, len(body))
            return
        loop = asyncio.get_running_loop()
        try:
            worker = self._worker()
            if worker is None:
                job = loop.run_in_executor(self.pool, analyse, req.method, req.pretty_url, req.headers.copy(), body,
                                           self.policy, self._check, self.max_body)
                sub, verdict = await asyncio.wait_for(job, self.timeout)
            else:
                sub, verdict = await worker.analyse(req.method, req.pretty_url, dict(req.headers), body,
                                                    self.max_body, self.timeout)
        except TimeoutError:
            self._fail(flow, f"check timed out after {self.timeout * 1000:.0f} ms", None)
            return
        except BodyError as e:
            self._fail(flow, f"unreadable body: {e}", None)
            return
        except InputError as e:
            self._fail(flow, f"checker refused the post: {e}", None)
            return
        except WorkerGone as e:  # it is started again on the next post
            self._fail(flow, str(e), None)
            return
        except Exception as e:  # a checker bug must not break the user's browsing silently
            log.exception("postguard check failed")
            self._fail(flow, f"checker error: {type(e).__name__}", None)
            return
        if sub is None:
            return
        if verdict is None:
            self._event(flow, "logged", sub, None, error=f"unreadable: {sub.unreadable}")
            flow.metadata["postguard"] = {"action": "logged", "unreadable": sub.unreadable, "site": sub.site}
            return
        self._decide(flow, sub, verdict)

    async def websocket_message(self, flow: http.HTTPFlow) -> None:
        """Chat sent over a websocket (Messenger, Instagram DMs): block drops it, the rest is logged.

        No page can be shown inside a websocket, so a warning cannot offer "Post anyway" here:
        it is logged (the extension warns in the page); only `block` drops the message.
        """
        assert flow.websocket is not None
        msg = flow.websocket.messages[-1]
        if not msg.from_client or self.policy is None or not self._is_social(flow.request.pretty_host):
            return
        if len(msg.content) > self.max_body:
            return
        loop = asyncio.get_running_loop()

        def analyse() -> tuple[Submission | None, Verdict | None]:
            sub = extract_websocket(flow.request.pretty_url, msg.content, self.policy)
            if sub is None or sub.kind is None or sub.unreadable:
                return sub, None
            return sub, self._check(as_post(sub), self.policy)

        try:
            sub, v = await asyncio.wait_for(loop.run_in_executor(self.pool, analyse), self.timeout)
        except Exception as e:  # timeout, unreadable or checker error: the fail mode decides
            self._event(flow, "error", None, None, error=f"websocket message: {type(e).__name__}: {e}"[:300])
            if self.fail_mode == "block":
                msg.drop()
            return
        if sub is None or sub.kind is None:
            return
        if v is None:
            self._event(flow, "logged", sub, None, error=f"unreadable: {sub.unreadable}")
            return
        if v.action == "block":
            msg.drop()
            self._event(flow, "blocked", sub, v)
        elif v.action == "pass":
            if ctx.options.postguard_log_passed:
                self._event(flow, "passed", sub, v)
        else:
            self._event(flow, "logged", sub, v,
                        error="warning not shown: websocket message" if v.action == "warn" else None)

    # ---- decisions -------------------------------------------------------------------------

    def _decide(self, flow: http.HTTPFlow, sub: Submission, v: Verdict) -> None:
        action = v.action
        meta: dict[str, Any] = {"action": action, "fired": v.fired, "site": sub.site, "kind": sub.kind,
                                "spec": sub.spec, "account": v.account}
        flow.metadata["postguard"] = meta
        findings = v.to_dict()["findings"]
        if action == "pass":
            if ctx.options.postguard_log_passed:
                self._event(flow, "passed", sub, v)
            return
        if action == "log":
            self._event(flow, "logged", sub, v)
            return
        client = str(flow.client_conn.peername[0]) if flow.client_conn.peername else ""
        key = content_key(sub.site, sub.target, sub.texts, sub.links, sub.images, client)
        if action == "warn" and self.overrides.consume(key):
            meta["action"] = "overridden"
            self._event(flow, "passed", sub, v, error=None, request_id=meta.get("token"))
            return
        token = ""
        if action == "warn":
            req = flow.request
            # Only a page navigation is replayed by the proxy; a script resends its own request.
            original = ((req.method, req.url, list(req.headers.fields), req.raw_content or b"")
                        if pages.is_navigation(req.headers) else None)
            token = self.overrides.add_pending(key, req.pretty_host, {"sub": dataclasses.replace(sub, images=[]), "verdict": v, "url": req.pretty_url},
                                                original)
            meta["token"] = token
        self._event(flow, "warned" if action == "warn" else "blocked", sub, v, request_id=token or None)
        self._respond(flow, action, findings, sub.text, token, v.policy_digest)

    def _respond(self, flow: http.HTTPFlow, kind: str, findings: list[dict[str, Any]], text: str,
                 token: str, digest: str, *, status: int = 403, error: str = "",
                 override_error: str = "", justification: str = "") -> None:
        assert self.policy is not None
        req = flow.request
        if pages.is_navigation(req.headers):
            body = pages.render_html(
                kind, notice=self.policy.data.notice, clauses=self.policy.data.clauses, findings=findings,
                text=text, token=token, min_chars=self.min_chars, back_url=self._back_url(flow),
                override_error=override_error, justification=justification, digest=digest)
            flow.response = pages.html_response(status, body)
            return
        payload: dict[str, Any] = {"action": kind, "findings": findings, "notice": self.policy.data.notice,
                                   "policy_digest": digest or self.policy.digest}
        if error:
            payload["error"] = error
        if kind == "warn" and token:
            payload.update(token=token, justification_min_chars=self.min_chars,
                           override_url=f"{req.scheme}://{req.pretty_host}{pages.OVERRIDE_PATH}",
                           override_window_seconds=int(self.overrides.window))
        if override_error:
            payload["override_error"] = override_error
        flow.response = pages.json_response(status, payload)
        self._allow_social_origin(flow)

    def _allow_social_origin(self, flow: http.HTTPFlow) -> None:
        """Let a social site's own page read our JSON answer to its cross-origin post (e.g. a page
        on www.reddit.com posting to oauth.reddit.com): without CORS headers the page, and the
        extension's fetch wrapper inside it, would only see a network error."""
        assert self.policy is not None and flow.response is not None
        origin = flow.request.headers.get("origin", "")
        host = urlsplit(origin).hostname or ""
        if origin.startswith("https://") and host and is_social_host(host, self.policy):
            flow.response.headers["Access-Control-Allow-Origin"] = origin
            flow.response.headers["Access-Control-Allow-Credentials"] = "true"
            flow.response.headers["Access-Control-Expose-Headers"] = "X-Postguard"
            flow.response.headers["Vary"] = "Origin"

    def _back_url(self, flow: http.HTTPFlow) -> str:
        ref = flow.request.headers.get("referer", "")
        s = urlsplit(ref)
        # Only send the user back within the same site (no open redirect through our page).
        if s.scheme in ("http", "https") and s.hostname == flow.request.pretty_host.lower():
            return ref
        return "/"

    def _too_large(self, flow: http.HTTPFlow, size: int) -> None:
        err = f"request body of {size:,} bytes exceeds the limit of {self.max_body:,}"
        flow.metadata["postguard"] = {"action": "blocked", "error": err}
        self._event(flow, "blocked", None, None, error=err)
        self._respond(flow, "too_large", [], "", "", "", status=413, error=err)

    def _fail(self, flow: http.HTTPFlow, reason: str, sub: Submission | None) -> None:
        flow.metadata["postguard"] = {"action": "error", "error": reason, "fail_mode": self.fail_mode}
        self._event(flow, "error", sub, None, error=reason)
        if self.fail_mode == "block":
            self._respond(flow, "error", [], "", "", "", status=503, error=reason)

    # ---- "Post anyway" ---------------------------------------------------------------------

    def _override(self, flow: http.HTTPFlow) -> None:
        """Record a justified override; replay a form post, or let a script retry its request."""
        req = flow.request
        as_json = "json" in req.headers.get("content-type", "").lower()
        token = justification = ""
        if req.method == "POST" and len(req.raw_content or b"") <= 64 * 1024:
            try:
                if as_json:
                    data = json.loads(req.get_content() or b"{}")
                    token, justification = str(data.get("token", "")), str(data.get("justification", ""))
                else:
                    form = req.urlencoded_form
                    token, justification = form.get("token", ""), form.get("justification", "")
            except (ValueError, AttributeError):
                token = ""
        justification = justification.strip()
        allowed = ctx.options.postguard_override_origins
        if as_json and allowed and req.headers.get("origin", "") not in allowed:
            flow.metadata["postguard"] = {"action": "override-rejected"}
            flow.response = pages.json_response(403, {"action": "override-rejected",
                                                      "error": "overrides are accepted from the postguard extension only"})
            return
        pending = self.overrides.get_pending(token, req.pretty_host) if token else None
        if pending is None:
            flow.metadata["postguard"] = {"action": "override-rejected"}
            self._respond(flow, "expired", [], "", "", "", status=410,
                          error="this warning has expired or was already used; post again to have it checked")
            return
        sub: Submission = pending.event["sub"]
        v: Verdict = pending.event["verdict"]
        findings = v.to_dict()["findings"]
        if len(justification) < self.min_chars:
            self._respond(flow, "warn", findings, sub.text, token, v.policy_digest, status=400,
                          override_error=f"Please give a reason of at least {self.min_chars} characters.",
                          justification=justification)
            return
        if self.overrides.grant(token, req.pretty_host) is None:
            self._respond(flow, "expired", [], "", "", "", status=410, error="this warning was already used")
            return
        self._event(flow, "overridden", sub, v, justification=justification, request_id=token,
                    url=pending.event.get("url"))
        flow.metadata["postguard"] = {"action": "overridden", "token": token, "fired": v.fired}
        if as_json or pending.request is None:
            flow.response = pages.json_response(200, {"action": "overridden", "token": token,
                                                      "override_window_seconds": int(self.overrides.window)})
            return
        # A plain form post: send the original request on, once, in place of this one.
        self.overrides.consume(pending.key)
        method, url, fields, body = pending.request
        req.method = method
        req.url = url
        req.headers = http.Headers(fields)
        req.raw_content = body

    # ---- the log ---------------------------------------------------------------------------

    def _event(self, flow: http.HTTPFlow, action: str, sub: Submission | None, v: Verdict | None, *,
               error: str | None = None, justification: str | None = None, request_id: str | None = None,
               url: str | None = None) -> None:
        from store import Event

        if self.store is None or self.policy is None:
            return
        opts = ctx.options
        try:
            self.store.append(Event(
                source="proxy", action=action, site=sub.site if sub else flow.request.pretty_host,
                url=_log_url(url or flow.request.pretty_url), account=v.account if v else None,
                target=sub.target if sub else None, kind=sub.kind if sub else None,
                findings=v.to_dict()["findings"] if v else [], text=sub.text if sub else None,
                justification=justification, policy_digest=v.policy_digest if v else self.policy.digest,
                device=opts.postguard_device or None, employee=opts.postguard_employee or None,
                error=error, request_id=request_id))
        except Exception:  # the log spools on failure; a bug here must not drop the user's post
            log.exception("postguard: could not append an event")
