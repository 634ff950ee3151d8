"""The device API (docs/device-api.md): enrol, events, heartbeat, policy, health."""

from __future__ import annotations

import asyncio
import base64
import json
import sqlite3
import sys
import time
from datetime import datetime
from typing import Any

from aiohttp import web

from postguard import __version__
from server.alerts_send import ALERTER
from server.auth import Unauthorized
from server.keys import LIGHT, POOL, SERVER, SIGNING_KEY, STATE, VERIFIER
from server.signing import load_public_key, public_key_b64
from store import bundles, devices, ingest, problems
from store.db import Conn
from store.event import iso

MAX_BODY = 4 << 20
MAX_SMALL_BODY = 64 << 10


def _json(status: int, **body: Any) -> web.Response:
    return web.json_response(body, status=status)


def _refused(reason: str) -> web.Response:
    return _json(401, error="unauthorized", reason=reason)


async def _body(request: web.Request, limit: int) -> bytes:
    """The raw body, at most `limit` bytes (413 past it)."""
    if request.content_length is not None and request.content_length > limit:
        raise web.HTTPRequestEntityTooLarge(max_size=limit, actual_size=request.content_length)
    parts: list[bytes] = []
    size = 0
    while chunk := await request.content.read(1 << 16):
        size += len(chunk)
        if size > limit:
            raise web.HTTPRequestEntityTooLarge(max_size=limit, actual_size=size)
        parts.append(chunk)
    return b"".join(parts)


def _parse(raw: bytes) -> dict[str, Any]:
    try:
        body = json.loads(raw.decode("utf-8")) if raw else None
    except (UnicodeDecodeError, ValueError):
        body = None
    if not isinstance(body, dict):
        raise web.HTTPBadRequest(text=json.dumps({"error": "the body must be a JSON object"}),
                                 content_type="application/json")
    return body


def _bad(message: str) -> web.HTTPBadRequest:
    return web.HTTPBadRequest(text=json.dumps({"error": message}), content_type="application/json")


async def _signed(request: web.Request, limit: int) -> tuple[str, bytes]:
    raw = await _body(request, limit)
    device = await request.config_dict[VERIFIER].check(request.method, request.raw_path, request.headers, raw)
    return device, raw


@web.middleware
async def unauthorized_as_401(request: web.Request, handler: Any) -> web.StreamResponse:
    """Unauthorized -> 401 with its reason; a database that is down -> 503 (the device retries)."""
    try:
        return await handler(request)
    except Unauthorized as e:
        return _refused(e.reason)
    except ConnectionError:
        return _json(503, error="the server's database is unavailable; retry later")


async def health(request: web.Request) -> web.Response:
    """Unsigned liveness check, with how the log is kept (`store.writer.Writer.health`): 200
    while events are durable (written, or spooled while the database is down: `log.state`
    says which), 503 when they are held in memory only (neither the database nor the spool
    takes them), so a monitor or load balancer sees it."""
    kept = request.config_dict[STATE].store.writer.health()
    ok = kept["state"] != "holding"
    return _json(200 if ok else 503, ok=ok, version=__version__, log=kept)


def _text(body: dict[str, Any], key: str, limit: int, required: bool = True) -> str | None:
    v = body.get(key)
    if v is None and not required:
        return None
    if not isinstance(v, str) or not v.strip() or len(v) > limit or not v.isprintable():
        raise _bad(f"{key}: {'required, ' if required else ''}printable text of at most {limit} characters")
    return v.strip()


async def enroll(request: web.Request) -> web.Response:
    """Use a one-time code to register a device's public key; 403 when the code is no good."""
    body = _parse(await _body(request, MAX_SMALL_BODY))
    code = _text(body, "code", 64) or ""
    pub = _text(body, "public_key", 64) or ""
    try:
        load_public_key(pub)
    except ValueError as e:
        raise _bad(str(e)) from None
    enrolment = devices.Enrolment(code=code, public_key=pub, hostname=_text(body, "hostname", 253) or "",
                          name=_text(body, "name", 100, required=False),
                          agent_version=_text(body, "agent_version", 40, required=False))
    cfg, state = request.config_dict[SERVER], request.config_dict[STATE]
    try:
        device = await request.config_dict[LIGHT].run(lambda c: devices.enrol(c, enrolment, cfg.heartbeat_interval))
    except devices.EnrolError:
        return _json(403, error="enrolment code unknown, used or expired")
    # server_key: the device pins it and accepts only policy bundles it signed
    return _json(201, device_id=device, server_time=iso(None), heartbeat_interval=cfg.heartbeat_interval,
                 policy_digest=state.digest, server_key=public_key_b64(request.config_dict[SIGNING_KEY]))


async def events(request: web.Request) -> web.Response:
    """Store a batch of the device's chained rows, exactly once."""
    device, raw = await _signed(request, MAX_BODY)

    def parse_and_check() -> list[dict[str, Any]]:
        return ingest.check_rows(_parse(raw).get("events"), device)

    try:  # a 4 MiB body takes tens of milliseconds to parse: not on the event loop
        rows = await asyncio.to_thread(parse_and_check)
    except PermissionError as e:
        return _json(403, error=str(e), reason="wrong-device")
    except ingest.BadRows as e:
        raise _bad(str(e)) from None
    state, alerter = request.config_dict[STATE], request.config_dict[ALERTER]
    now = time.time()
    async with state.lock(device):
        try:
            res = await request.config_dict[POOL].run(
                lambda c: ingest.ingest(c, device, rows, now, on_stored=alerter.on_stored))
        except Exception as e:
            if not _is_conflict(e):
                raise
            return _json(409, error="an event id (uid) in this upload belongs to another stored event")
    if res is None:
        request.config_dict[VERIFIER].revoked(device)
        return _refused("revoked")
    if res.stored:
        alerter.wake()  # an alert queued with these rows goes out now, not at the next poll
    for p in res.opened:
        state.problem_opened(device, p["kind"], p["detail"])
    return _json(200, **res.answer())


def _is_conflict(e: Exception) -> bool:
    """A unique constraint refused the insert (the only one a checked upload can hit: uid)."""
    pg = sys.modules.get("psycopg")
    return isinstance(e, sqlite3.IntegrityError) or (pg is not None and isinstance(e, pg.IntegrityError))


HEARTBEAT_TYPES: dict[str, tuple[type, ...]] = {
    "agent_version": (str,), "policy_digest": (str,), "last_seq": (int,), "head_hash": (str,),
    "proxy_up": (bool,), "backend_up": (bool,), "extension_seen": (str,), "queue_depth": (int,),
    "queue_limit": (int,), "clock": (str,), "started_at": (str,), "policy_version": (int,),
    "policy_refused": (str,),
}


def heartbeat_fields(body: dict[str, Any]) -> dict[str, Any]:
    """The heartbeat's known fields, type-checked (null allowed; unknown fields ignored)."""
    out: dict[str, Any] = {}
    for k, types in HEARTBEAT_TYPES.items():
        v = body.get(k)
        if v is None:
            out[k] = None
            continue
        if not isinstance(v, types) or (bool not in types and isinstance(v, bool)):
            raise _bad(f"{k}: expected {types[0].__name__}")
        if isinstance(v, str) and len(v) > 200:
            raise _bad(f"{k}: at most 200 characters")
        out[k] = v
    return out


def _skew(clock: str | None, now: float) -> float | None:
    """Server time minus the device's clock, in seconds (None when the clock is not ISO time)."""
    if not clock:
        return None
    try:
        dt = datetime.fromisoformat(clock.replace("Z", "+00:00"))
    except ValueError:
        return None
    if dt.tzinfo is None:
        return None
    return round(now - dt.timestamp(), 3)


def _save_health(conn: Conn, device: str, hb: dict[str, Any], now: float, digest: str,
                 known: set[str]) -> list[tuple[str, str]] | None:
    """Record a heartbeat and settle the health problems; the newly opened ones, or None when revoked."""
    opened: list[tuple[str, str]] = []
    with conn.write():
        if not devices.save_heartbeat(conn, device, hb, _skew(hb.get("clock"), now), now):
            return None
        found = problems.health_conditions(hb, digest, known)
        if "policy" in found and hb.get("policy_refused"):
            found["policy"] += f"; the device refused the bundle: {hb['policy_refused']}"
        for kind, detail in found.items():
            if problems.open_problem(conn, device, kind, detail, None, now):
                opened.append((kind, detail))
        problems.resolve_kinds(conn, device, [k for k in problems.HEALTH_KINDS if k not in found], now)
    return opened


async def heartbeat(request: web.Request) -> web.Response:
    """Record the device's health; answer with the interval and the policy it should run."""
    device, raw = await _signed(request, MAX_SMALL_BODY)
    hb = heartbeat_fields(_parse(raw))
    state, cfg = request.config_dict[STATE], request.config_dict[SERVER]
    now = time.time()
    opened = await request.config_dict[LIGHT].run(lambda c: _save_health(c, device, hb, now, state.digest,
                                                                state.known_digests))
    if opened is None:
        request.config_dict[VERIFIER].revoked(device)
        return _refused("revoked")
    for kind, detail in opened:
        state.problem_opened(device, kind, detail)
    return _json(200, server_time=iso(now), heartbeat_interval=cfg.heartbeat_interval,
                 policy_digest=state.digest, revoked=False)


def _matches(if_none_match: str, etag: str) -> bool:
    """Whether an If-None-Match header names `etag` (weak or strong, or `*`)."""
    tags = [t.strip().removeprefix("W/") for t in if_none_match.split(",")]
    return "*" in tags or etag in tags


async def policy(request: web.Request) -> web.Response:
    """The newest signed policy bundle: 304 when If-None-Match names it, 404 before the first publish."""
    device, _ = await _signed(request, 0)

    def newest(c: Conn) -> tuple[bool, bundles.Bundle | None]:
        key = devices.public_key(c, device)
        if key is None or key[1]:
            return False, None
        return True, bundles.latest(c)

    ok, b = await request.config_dict[LIGHT].run(newest)
    if not ok:
        request.config_dict[VERIFIER].revoked(device)
        return _refused("revoked")
    if b is None:
        return _json(404, error="no policy bundle has been published")
    state = request.config_dict[STATE]
    if state.digest != b.policy_digest:  # heartbeats are judged against the newest bundle from now on
        state.known_digests.add(state.digest)
        state.digest = b.policy_digest
    if _matches(request.headers.get("If-None-Match", ""), b.etag):
        return web.Response(status=304, headers={"ETag": b.etag})
    full = await request.config_dict[LIGHT].run(lambda c: bundles.latest(c, with_data=True))
    assert full is not None and full.data is not None
    body = {"version": full.version, "manifest": full.manifest, "signature": full.signature,
            "bundle": base64.b64encode(full.data).decode("ascii")}
    return web.json_response(body, headers={"ETag": full.etag, "Cache-Control": "no-store"})


def api_app() -> web.Application:
    """The device API, mounted at /api/v1 on the server's application."""
    app = web.Application(middlewares=[unauthorized_as_401])
    app.router.add_get("/health", health)
    app.router.add_post("/enroll", enroll)
    app.router.add_post("/events", events)
    app.router.add_post("/heartbeat", heartbeat)
    app.router.add_get("/policy", policy)
    return app
