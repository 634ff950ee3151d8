"""The extension's local backend: one `create_app(config)` factory and one screen of routes."""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import time
import uuid
from typing import Any

from aiohttp import web

from checker import ImageInput, InputError, Post
from checker.neural import warm_encoders
from enforce import ACTION_OF_CHOICE, event_for, inspect_post, justification_error, log_config
from extension.backend import schema
from extension.backend.config import BackendConfig
from extension.backend.explain import explain
from extension.backend.security import Budget, Seen, error, guard
from store import Store, open_store
from store.event import iso

CONFIG = web.AppKey("config", BackendConfig)
LOG = web.AppKey("log", Store)
POLICY_VIEW = web.AppKey("policy_view", dict)
CACHE = web.AppKey("verdict_cache", dict)
SEEN = web.AppKey("extension_seen", Seen)
EVENT_BUDGET = web.AppKey("event_budget", tuple)  # (events Budget, bytes Budget)
# The submit usually re-checks the text the last typing hint just checked; a small LRU of
# verdicts (text-only posts, short texts) turns that second check into a lookup.
CACHE_SIZE = 256
CACHE_MAX_TEXT = 5000


async def _json_body(request: web.Request, body_schema: dict[str, Any]) -> dict[str, Any] | web.Response:
    """The request's JSON body validated against `body_schema`, or a clear 400/413/415."""
    if request.content_type != "application/json":
        return error(415, "Content-Type must be application/json")
    try:
        raw = await request.read()
    except web.HTTPRequestEntityTooLarge:
        return error(413, f"body larger than {request.app[CONFIG].max_body_bytes:,} bytes")
    try:
        body = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        return error(400, "body is not UTF-8")
    except json.JSONDecodeError as e:
        return error(400, f"body is not valid JSON: {e.msg} at line {e.lineno} column {e.colno}")
    problems = schema.validate(body, body_schema)
    if problems:
        return error(400, "request does not match the schema", problems[:20])
    return body


def _post(body: dict[str, Any], images: tuple[ImageInput, ...] = ()) -> Post:
    return Post(text=body["text"], account=body.get("account"), site=body["site"],
                target=body.get("target"), links=tuple(body.get("links", ())),
                images=images, kind=body.get("kind", "post"))


def _images(body: dict[str, Any]) -> tuple[ImageInput, ...] | web.Response:
    out = []
    for i, img in enumerate(body.get("images", ())):
        data = img["data"]
        if data.startswith("data:"):  # a data: URL as the browser's FileReader gives it
            data = data.partition(",")[2]
        try:
            out.append(ImageInput(name=img["name"], data=base64.b64decode(data, validate=True)))
        except (binascii.Error, ValueError):
            return error(400, "request does not match the schema", [f"body.images[{i}].data: not base64"])
    return tuple(out)


async def check_post(request: web.Request) -> web.Response:
    """POST /v1/check: the checker's verdict with plain-words explanations and spans."""
    started = time.perf_counter()
    body = await _json_body(request, schema.CHECK)
    if isinstance(body, web.Response):
        return body
    images = _images(body)
    if isinstance(images, web.Response):
        return images
    policy = request.app[CONFIG].policy
    cache = request.app[CACHE]
    key = None if images or len(body["text"]) > CACHE_MAX_TEXT else json.dumps(
        [body["text"], body["site"], body.get("target"), body.get("links"), body.get("kind"), body.get("account")])
    out = cache.get(key) if key else None
    if out is None:
        post = _post(body, images)
        try:
            # Images (perceptual hashing) are the slow part; keep the loop free for them only.
            verdict = await asyncio.to_thread(inspect_post, post, policy) if images else inspect_post(post, policy)
        except InputError as e:
            return error(400, f"cannot check this post: {e}")
        out = explain(verdict, policy, body["text"])
        if key:
            cache[key] = out
            if len(cache) > CACHE_SIZE:
                cache.pop(next(iter(cache)))
    else:
        cache[key] = cache.pop(key)  # most recently used last
    response = web.json_response({**out, "request_id": uuid.uuid4().hex})
    # Our own time, apart from queueing in the OS and the loop (bench/extension reads it).
    response.headers["Server-Timing"] = f"check;dur={(time.perf_counter() - started) * 1000:.3f}"
    return response


async def post_events(request: web.Request) -> web.Response:
    """POST /v1/events: the employee's choice (one event, or a batch queued while offline)."""
    cfg = request.app[CONFIG]
    raw = await _json_body(request, {"type": "object"})
    if isinstance(raw, web.Response):
        return raw
    batch = raw if "events" in raw else {"events": [raw]}
    problems = schema.validate(batch, schema.EVENTS)
    if problems:
        return error(400, "request does not match the schema", problems[:20])
    for i, ev in enumerate(batch["events"]):
        problem = justification_error(ev.get("justification"), cfg.policy.settings)
        if ev["choice"] == "overridden" and problem:
            return error(400, "request does not match the schema", [f"body.events[{i}].justification: {problem}"])
    # A person makes a few choices a minute; a forger at 100 requests a second must not fill the log.
    n_events, budget, size = len(batch["events"]), request.app[EVENT_BUDGET], len(await request.read())
    count_budget, byte_budget = budget
    if not (count_budget.can(n_events) and byte_budget.can(size)):
        wait = max(count_budget.wait(n_events), byte_budget.wait(size))
        return error(429, "too many events; the extension keeps them and sends them later",
                     headers={"Retry-After": str(min(wait, 3600))})
    count_budget.spend(n_events)
    byte_budget.spend(size)
    ids = []
    for ev in batch["events"]:
        # Findings are recomputed here, never taken from the client, so the log says what
        # the checker says about the text that was actually posted.
        err = ev.get("error")
        if ev["choice"] == "unchecked":
            err = err or "not checked when posted: the backend was unreachable"
        verdict = None
        try:
            verdict = inspect_post(_post(ev), cfg.policy)
        except InputError as e:  # still a choice the person made: log it, without findings
            err = f"cannot check this post: {e}"
        ids.append(request.app[LOG].append(event_for(
            "extension", ACTION_OF_CHOICE[ev["choice"]], verdict, policy_digest=cfg.policy.digest,
            site=ev["site"], url=ev.get("url"), account=ev.get("account"), target=ev.get("target"),
            kind=ev.get("kind", "post"), text=ev["text"], justification=ev.get("justification"),
            error=err, request_id=ev.get("request_id"))))
    return web.json_response({"ok": True, "ids": ids}, status=201)


async def get_policy(request: web.Request) -> web.Response:
    """GET|POST /v1/policy: clauses, the monitoring notice, rule actions and the social hosts."""
    return web.json_response(request.app[POLICY_VIEW])


async def healthz(request: web.Request) -> web.Response:
    """GET /healthz: liveness, the policy digest, and when the extension last called (UTC ISO
    time or null; the agent's heartbeat reports it)."""
    at = request.app[SEEN].at
    return web.json_response({"ok": True, "policy_digest": request.app[CONFIG].policy.digest,
                              "extension_seen": None if at is None else iso(at)})


def policy_view(config: BackendConfig) -> dict[str, Any]:
    """What the extension shows and needs of the policy (never the roster)."""
    p = config.policy
    return {
        "district": p.district.name,
        "digest": p.digest,
        "notice": p.data.notice,
        "clauses": p.data.clauses,
        "actions": {r.id: dict(r.config.actions) for r in p.rules},
        "social_hosts": list(p.data.social["hosts"]),
        "disclaimer": p.district.disclaimer_fix,
        "fail_mode": p.settings.fail_mode,
        "justification_min_chars": p.settings.justification_min_chars,
    }


async def _log_ctx(app: web.Application) -> Any:
    cfg = app[CONFIG]
    warm_encoders()  # the text encoder's session, before the first /v1/check rather than during it
    log = cfg.store if cfg.store is not None else open_store(cfg.db, log_config(cfg.policy))
    app[LOG] = log
    yield
    if cfg.store is None:
        log.close()


def create_app(config: BackendConfig) -> web.Application:
    """The backend application: routes, the security middleware and the log."""
    seen = Seen()
    app = web.Application(middlewares=[guard(config, seen)], client_max_size=config.max_body_bytes)
    app[CONFIG] = config
    app[SEEN] = seen
    app[EVENT_BUDGET] = (Budget(config.events_per_second, config.events_burst),
                         Budget(config.event_bytes_per_second, config.event_bytes_burst))
    app[POLICY_VIEW] = policy_view(config)
    app[CACHE] = {}
    app.cleanup_ctx.append(_log_ctx)
    app.router.add_post("/v1/check", check_post)
    app.router.add_post("/v1/events", post_events)
    app.router.add_get("/v1/policy", get_policy)
    # Chromium sends no Origin on an extension's GET to a host it has permissions for, and
    # a missing Origin is refused; so the extension reads the policy with a POST.
    app.router.add_post("/v1/policy", get_policy)
    app.router.add_get("/healthz", healthz)
    return app
