"""The extension's local backend: one `create_app(config)` factory and one screen of routes."""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

from aiohttp import web

from checker import Policy, load_policy
from checker.neural import warm_encoders
from enforce import log_config
from enforce.policy_watch import follow
from extension.backend import schema
from extension.backend.config import BackendConfig
from extension.backend.decide import BODY_SIZE, Recent, VerdictCache, check, events_of, json_body
from extension.backend.security import Budget, Seen, guard
from store import Store, open_store
from store.event import iso

CONFIG = web.AppKey("config", BackendConfig)
LOG = web.AppKey("log", Store)
POLICY_VIEW = web.AppKey("policy_view", dict)
CACHE = web.AppKey("verdict_cache", VerdictCache)
SEEN = web.AppKey("extension_seen", Seen)
EVENT_BUDGET = web.AppKey("event_budget", tuple)  # (events Budget, bytes Budget)
RECENT = web.AppKey("recent_choices", Recent)  # a batch sent again is stored once


async def check_post(request: web.Request) -> web.Response:
    """POST /v1/check: the checker's verdict with plain-words explanations and spans."""
    started = time.perf_counter()
    cfg = request.app[CONFIG]
    body = await json_body(request, schema.CHECK, cfg.max_body_bytes)
    if isinstance(body, web.Response):
        return body
    out = await check(body, cfg.policy, request.app[CACHE])
    if isinstance(out, web.Response):
        return out
    response = web.json_response({**out, "request_id": uuid.uuid4().hex})
    # Our own time, apart from queueing in the OS and the loop (bench/extension reads it).
    response.headers["Server-Timing"] = f"check;dur={(time.perf_counter() - started) * 1000:.3f}"
    return response


async def post_events(request: web.Request) -> web.Response:
    """POST /v1/events: the employee's choice (one event, or a batch queued while offline),
    acknowledged (201 + ids) once every event is durable: committed to the log, or in its
    fsynced spool (store.writer.Pending). 503 when neither takes them: the extension keeps them."""
    cfg = request.app[CONFIG]
    raw = await json_body(request, {"type": "object"}, cfg.max_body_bytes)
    if isinstance(raw, web.Response):
        return raw
    events = events_of(raw, cfg.policy, request.app[EVENT_BUDGET], request[BODY_SIZE])
    if isinstance(events, web.Response):
        return events
    return await request.app[RECENT].acknowledge(request.app[LOG], events)


async def get_policy(request: web.Request) -> web.Response:
    """GET|POST /v1/policy: clauses, the monitoring notice, rule actions and the social hosts."""
    return web.json_response(request.app[POLICY_VIEW])


async def healthz(request: web.Request) -> web.Response:
    """GET /healthz: liveness, the policy digest, and when the extension last called (UTC ISO
    time or null; the agent's heartbeat reports it)."""
    at = request.app[SEEN].at
    return web.json_response({"ok": True, "policy_digest": request.app[CONFIG].policy.digest,
                              "extension_seen": None if at is None else iso(at)})


def policy_view(p: Policy) -> dict[str, Any]:
    """What the extension shows and needs of the policy (never the roster)."""
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
    log = cfg.store if cfg.store is not None else open_store(cfg.db, log_config(cfg.policy), staff=cfg.staff)
    app[LOG] = log
    yield
    if cfg.store is None:
        log.close()


async def _policy_ctx(app: web.Application) -> Any:
    """Follow the policy folder when it is swapped (the agent's STATE/policy/current): the config
    holds the policy in force; its view and the verdict cache follow it, without a restart."""
    cfg = app[CONFIG]

    async def use(policy: Policy) -> None:
        cfg.policy = policy
        app[POLICY_VIEW].clear()
        app[POLICY_VIEW].update(policy_view(policy))
        app[CACHE].clear()

    task = asyncio.create_task(follow(cfg.policy.data.path, lambda: cfg.policy.digest, load_policy, use))
    yield
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


def create_app(config: BackendConfig) -> web.Application:
    """The backend application: routes, the security middleware and the log."""
    seen = Seen()
    app = web.Application(middlewares=[guard(config, seen)], client_max_size=config.max_body_bytes)
    app[CONFIG] = config
    app[SEEN] = seen
    app[EVENT_BUDGET] = (Budget(config.events_per_second, config.events_burst),
                         Budget(config.event_bytes_per_second, config.event_bytes_burst))
    app[POLICY_VIEW] = policy_view(config.policy)
    app[CACHE] = VerdictCache()
    app[RECENT] = Recent()
    app.cleanup_ctx.append(_log_ctx)
    app.cleanup_ctx.append(_policy_ctx)
    app.router.add_post("/v1/check", check_post)
    app.router.add_post("/v1/events", post_events)
    app.router.add_get("/v1/policy", get_policy)
    # Chromium sends no Origin on an extension's GET to a host it has permissions for, and
    # a missing Origin is refused; so the extension reads the policy with a POST.
    app.router.add_post("/v1/policy", get_policy)
    app.router.add_get("/healthz", healthz)
    return app
