"""The extension API of the district server (mounted at /api/ext/v1/): what a browser without a
local agent (a Chromebook, a computer where the agent is not installed) asks instead of the local
backend. Same bodies, same decision path (`extension.backend.decide`), events written to the
server's log.

Authentication: `Authorization: Bearer <group key>` (one managed setting for a whole group of
devices, `server.extension_groups`) and an `Origin` that is the extension's own
(chrome-extension://<allowed id>); `X-Postguard-Device` carries the directory device id where
managed ChromeOS gives one (`chrome.enterprise.deviceAttributes`). That id is what the browser
reports, vouched for by the group key only: it names the device in the log, it proves nothing.

Posts are checked with the newest signed policy bundle the server publishes to its devices (the
same policy an agent runs), verified and loaded by `server.served_policy`; before the first publish,
with the server's own `--policy`. When that policy changes, the cached verdicts are forgotten.
"""

from __future__ import annotations

import re
import time
import uuid
from collections import OrderedDict
from typing import TYPE_CHECKING, Any

from aiohttp import web

from extension.backend import schema
from extension.backend.config import EXTENSION_ID
from extension.backend.decide import BODY_SIZE, Recent, VerdictCache, check, events_of, json_body
from extension.backend.security import Budget, RateLimiter, error
from server import extension_groups
from server.keys import LIGHT, SERVED, STATE

if TYPE_CHECKING:
    from checker import Policy

MAX_BODY = 4 << 20          # a check with a few photos; text alone is at most 100k characters
KEY_CACHE_SECONDS = 30.0    # a revoked group key is refused within this
DEVICE_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
BUDGETS_MAX = 10_000        # (group, device) event budgets kept in memory
# A group key can be read by anyone who can read the group's managed policy (chrome://policy), so a
# group as a whole is bounded too (inventing device ids does not multiply its budget).
GROUP_REQUESTS = (200.0, 1000)                             # requests a second, burst
GROUP_EVENTS = ((20.0, 4000), (1 << 20, 64 << 20))         # (events, bytes): a second, burst
ORIGINS = web.AppKey("extension_origins", frozenset)
CACHE = web.AppKey("extension_verdicts", VerdictCache)
KEYS = web.AppKey("extension_keys", dict)          # key -> (group, checked at)
BUDGETS = web.AppKey("extension_budgets", OrderedDict)
GROUPS = web.AppKey("extension_group_limits", dict)  # group -> (RateLimiter, events Budget, bytes Budget)
READY = web.AppKey("extension_ready", list)
VIEW = web.AppKey("extension_policy_view", dict)
CACHED_FOR = web.AppKey("extension_verdicts_digest", list)  # [the policy digest the cached verdicts are of]
RECENT = web.AppKey("extension_recent_choices", Recent)  # a batch sent again is stored once
DEVICE = web.RequestKey("extension_device", str)  # the log's device name for this request
GROUP = web.RequestKey("extension_group", str)


def _cors(origin: str) -> dict[str, str]:
    return {"Access-Control-Allow-Origin": origin, "Vary": "Origin"}


async def _group(request: web.Request) -> str | None:
    """The group whose key the request carries (looked up at most every KEY_CACHE_SECONDS)."""
    auth = request.headers.get("Authorization", "")
    key = auth[7:].strip() if auth[:7].lower() == "bearer " else ""
    if not key:
        return None
    cache, now = request.app[KEYS], time.monotonic()
    hit = cache.get(key)
    if hit is not None and now - hit[1] < KEY_CACHE_SECONDS:
        return hit[0]
    light = request.config_dict[LIGHT]
    if not request.app[READY]:
        await light.run(extension_groups.ensure_table)
        request.app[READY].append(True)
    group = await light.run(lambda c: extension_groups.group_of(c, key))
    if len(cache) > BUDGETS_MAX:
        cache.clear()
    cache[key] = (group, now)
    return group


@web.middleware
async def gate(request: web.Request, handler: Any) -> web.StreamResponse:
    """Only the extension (exact Origin), with a live group key; CORS answered exactly."""
    origin = request.headers.get("Origin")
    if origin is None or origin not in request.app[ORIGINS]:
        return error(403, "Origin not allowed: only the postguard extension may call this API")
    if request.method == "OPTIONS":
        return web.Response(status=204, headers={
            **_cors(origin), "Access-Control-Allow-Methods": "POST",
            "Access-Control-Allow-Headers": "Content-Type, Authorization, X-Postguard-Device",
            "Access-Control-Max-Age": "600"})
    try:
        group = await _group(request)
    except ConnectionError:
        return error(503, "the server's database is unavailable; try again shortly", headers=_cors(origin))
    if group is None:
        return error(401, "missing, unknown or revoked extension group key (the groupKey managed setting)",
                     headers=_cors(origin))
    device = request.headers.get("X-Postguard-Device", "")
    if device and not DEVICE_ID.match(device):
        return error(400, "X-Postguard-Device: letters, digits and . _ - only (up to 64)", headers=_cors(origin))
    request[DEVICE] = f"ext:{group}:{device}" if device else f"ext:{group}"
    request[GROUP] = group
    if not _group_limits(request.app, group)[0].allow():
        return error(429, "too many requests for this group of devices; slow down",
                     headers={**_cors(origin), "Retry-After": "1"})
    response = await handler(request)
    response.headers.update(_cors(origin))
    return response


async def _policy(request: web.Request) -> Policy:
    """The policy in force (the newest published bundle); the verdict cache follows it."""
    policy = await request.config_dict[SERVED].in_force()
    held = request.app[CACHED_FOR]
    if held[0] != policy.digest:
        request.app[CACHE].clear()
        held[0] = policy.digest
    return policy


async def check_post(request: web.Request) -> web.Response:
    """POST /api/ext/v1/check: as the local backend's /v1/check."""
    started = time.perf_counter()
    body = await json_body(request, schema.CHECK, MAX_BODY)
    if isinstance(body, web.Response):
        return body
    out = await check(body, await _policy(request), request.app[CACHE], in_thread=True)
    if isinstance(out, web.Response):
        return out
    response = web.json_response({**out, "request_id": uuid.uuid4().hex})
    response.headers["Server-Timing"] = f"check;dur={(time.perf_counter() - started) * 1000:.3f}"
    return response


class AllOf:
    """Several budgets spent together: available when each is."""

    def __init__(self, *budgets: Budget) -> None:
        self.budgets = budgets

    def can(self, cost: float) -> bool:
        return all(b.can(cost) for b in self.budgets)

    def spend(self, cost: float) -> None:
        for b in self.budgets:
            b.spend(cost)

    def wait(self, cost: float) -> int:
        return max(b.wait(cost) for b in self.budgets)


def _group_limits(app: web.Application, group: str) -> tuple[RateLimiter, Budget, Budget]:
    limits = app[GROUPS].get(group)
    if limits is None:
        (n_rate, n_burst), (b_rate, b_burst) = GROUP_EVENTS
        limits = app[GROUPS][group] = (RateLimiter(*GROUP_REQUESTS), Budget(n_rate, n_burst), Budget(b_rate, b_burst))
    return limits


def _budget(request: web.Request) -> tuple[Any, Any]:
    """The event budget of this device (or of the group's browsers that give no device id), and of
    the group as a whole."""
    budgets, key = request.app[BUDGETS], request[DEVICE]
    b = budgets.get(key)
    if b is None:
        b = budgets[key] = (Budget(1.0, 200), Budget(64 * 1024, 8 * 1024 * 1024))
        if len(budgets) > BUDGETS_MAX:
            budgets.popitem(last=False)
    budgets.move_to_end(key)
    _, group_count, group_bytes = _group_limits(request.app, request[GROUP])
    return AllOf(b[0], group_count), AllOf(b[1], group_bytes)


async def post_events(request: web.Request) -> web.Response:
    """POST /api/ext/v1/events: as the local backend's /v1/events, into the server's log, and
    acknowledged (201 + ids) as there: once every event is durable (committed, or in the
    server's fsynced spool); 503 when neither takes them, so the extension keeps them."""
    raw = await json_body(request, {"type": "object"}, MAX_BODY)
    if isinstance(raw, web.Response):
        return raw
    events = events_of(raw, await _policy(request), _budget(request), request[BODY_SIZE],
                       device=request[DEVICE])
    if isinstance(events, web.Response):
        return events
    return await request.app[RECENT].acknowledge(request.config_dict[STATE].store, events)


async def get_policy(request: web.Request) -> web.Response:
    """POST /api/ext/v1/policy: what the popup shows of the policy (never the roster)."""
    from extension.backend.app import policy_view

    policy = await _policy(request)
    view = request.app[VIEW]
    if view.get("digest") != policy.digest:
        view.clear()
        view.update(policy_view(policy))
    return web.json_response(view)


async def _preflight(request: web.Request) -> web.Response:
    return web.Response(status=204)  # answered by `gate`; the route makes OPTIONS resolve


def extension_app(extension_ids: tuple[str, ...] = (EXTENSION_ID,)) -> web.Application:
    """The sub-application to mount at /api/ext/v1/ (under /api/: no console sign-in)."""
    app = web.Application(middlewares=[gate])
    app[ORIGINS] = frozenset(f"chrome-extension://{i}" for i in extension_ids)
    app[CACHE] = VerdictCache()
    app[KEYS] = {}
    app[BUDGETS] = OrderedDict()
    app[GROUPS] = {}
    app[READY] = []
    app[VIEW] = {}
    app[CACHED_FOR] = [None]
    app[RECENT] = Recent()
    app.router.add_post("/check", check_post)
    app.router.add_post("/events", post_events)
    app.router.add_post("/policy", get_policy)
    app.router.add_route("OPTIONS", "/{tail:.*}", _preflight)
    return app
