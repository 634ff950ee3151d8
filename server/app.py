"""`create_app(config)`: the review console with the device API mounted at /api/v1, and the server's
periodic work (silent devices, daily checkpoints, retention by server time)."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

from aiohttp import web

from console import ConsoleConfig
from console import create_app as console_app
from server import checkpoint
from server.alerts_policy import load_alerts
from server.alerts_send import ALERTER, Alerter
from server.api import api_app
from server.auth import Verifier
from server.config import ServerConfig
from server.extension_api import extension_app
from server.keys import LIGHT, POOL, SERVED, SERVER, SIGNING_KEY, STATE, VERIFIER
from server.pool import DbPool
from server.served_policy import ServedPolicy, Swap, default_cache
from server.signing import public_key_b64
from server.state import SERVER_DEVICE, ServerState, server_event
from store import StoreConfig, bundles, checkpoints, devices, open_store, problems
from store.chain import purge
from store.db import Conn, is_postgres
from store.problems import seconds_of

log = logging.getLogger("postguard.server")
RETRY_SECONDS = 30.0
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _log_config(cfg: ServerConfig) -> StoreConfig:
    from enforce import log_config

    return log_config(cfg.policy)


def create_app(cfg: ServerConfig) -> web.Application:
    """The server's application: console pages, the device API, and the periodic tasks."""
    routes = load_alerts(cfg.policy, cfg.alerts_file)  # a bad alerts.toml stops it before anything opens
    key = checkpoint.load_or_create_key(cfg.signing_key)
    _write_public_key(cfg.signing_key, public_key_b64(key))
    store = open_store(cfg.db, _log_config(cfg), device=SERVER_DEVICE, spool=cfg.spool, auto_purge=False)
    # The console, the alerts and retention follow the policy in force: the newest published
    # bundle once the server has verified and loaded it (server/served_policy.py), else --policy.
    app = console_app(ConsoleConfig(db=cfg.db, policy=cfg.policy, store=store, secure_cookies=cfg.secure_cookies,
                                    policy_source=lambda: app[SERVED].policy))
    if cfg.behind_proxy:
        app.middlewares.insert(0, forwarded)
    pool = DbPool(cfg.db, cfg.db_threads)
    light = DbPool(cfg.db, 2 if is_postgres(cfg.db) else 1)

    async def lookup(device: str) -> tuple[str, bool] | None:
        return await light.run(lambda c: devices.public_key(c, device))

    app[SERVER] = cfg
    app[POOL] = pool
    app[LIGHT] = light
    app[STATE] = ServerState(store, cfg.policy.digest)

    def swapped(swap: Swap) -> None:  # the extension API's policy, in the server's own chain
        detail = (f"extension API: version {swap.version}" if swap.error is None
                  else f"extension API: version {swap.version} not taken: {swap.error}")
        if swap.error is None:  # what the server's own events keep: the policy in force's content mode
            from enforce import log_config

            store.reconfigure(log_config(app[SERVED].policy))
        store.writer.submit_event(server_event("policy-refused" if swap.error else "policy-updated", detail,
                                               app[SERVED].policy.digest))

    cache = Path(cfg.policy_cache) if cfg.policy_cache else default_cache(cfg.signing_key)
    app[SERVED] = ServedPolicy(cfg.policy, public_key_b64(key), cache, on_swap=swapped)
    app[VERIFIER] = Verifier(lookup, cfg.clock_window)
    app[SIGNING_KEY] = key
    # the routes follow the policy in force (its alerts.toml), unless an alerts file is named
    app[ALERTER] = Alerter(routes, lambda: app[SERVED].policy, cfg.alerts, light, follow=cfg.alerts_file is None)
    app.add_subapp("/api/v1/", api_app())
    app.add_subapp("/api/ext/v1/", extension_app())  # browsers without an agent (server/extension_api.py)
    app.cleanup_ctx.append(_server_ctx)
    return app


@web.middleware
async def forwarded(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Behind a TLS-terminating reverse proxy: the scheme and host the browser used, as the proxy
    says (so the console's same-origin check compares like with like), and the client's address
    (so sign-in throttling and the audit trail see each client, not the proxy). Only with
    --behind-proxy, where nothing but the proxy can reach the server.

    The address is the last X-Forwarded-For entry: the one our proxy appended; anything before it
    came from the client and could be forged."""
    proto = request.headers.get("X-Forwarded-Proto", "").split(",")[0].strip().lower()
    host = request.headers.get("X-Forwarded-Host", "").split(",")[0].strip()
    client = _last_forwarded_for(request.headers.getall("X-Forwarded-For", []))
    if proto in ("http", "https") or host or client:
        changes: dict[str, str] = {"scheme": proto if proto in ("http", "https") else request.scheme,
                                   "host": host or request.host}
        if client:
            changes["remote"] = client
        request = request.clone(**changes)  # type: ignore[arg-type]
    return await handler(request)


def _last_forwarded_for(values: list[str]) -> str | None:
    """The last address of X-Forwarded-For (over every such header), if it is an IP address."""
    import ipaddress

    entries = [e.strip() for v in values for e in v.split(",") if e.strip()]
    if not entries:
        return None
    try:
        return str(ipaddress.ip_address(entries[-1]))
    except ValueError:
        return None


def _write_public_key(key_path: str | Path, pub: str) -> None:
    """The public half beside the key (KEY.pub), for `postguard logs verify --trusted-key`."""
    p = Path(str(key_path) + ".pub")
    if not p.exists() or p.read_text(encoding="utf-8").strip() != pub:
        p.write_text(pub + "\n", encoding="utf-8")


STOP_SECONDS = 5.0  # how long the server's periodic jobs get to end at shutdown


async def _server_ctx(app: web.Application) -> AsyncIterator[None]:
    cfg = app[SERVER]
    app[STATE].known_digests = {app[STATE].digest}
    # Each job retries on its own while the database is down: the server starts anyway and
    # answers devices 503 until the database is back.
    await asyncio.to_thread(app[SERVED].clear_cache)
    tasks = [asyncio.create_task(_every(60.0, lambda: _note_digest(app)), name="policy-digest"),
             asyncio.create_task(_every(cfg.policy_seconds, lambda: _served_policy(app)), name="served-policy"),
             asyncio.create_task(_every(cfg.sweep_seconds, lambda: _sweep(app)), name="silent-devices"),
             asyncio.create_task(_every(min(3600.0, cfg.checkpoint_hours * 3600), lambda: _checkpoint_due(app)),
                                 name="checkpoints"),
             asyncio.create_task(_every(cfg.retention_hours * 3600, lambda: _retention(app)), name="retention"),
             asyncio.create_task(app[ALERTER].run(), name="alerts")]
    yield
    for t in tasks:
        t.cancel()
    _, stuck = await asyncio.wait(tasks, timeout=STOP_SECONDS)
    if stuck:  # a job that ignores its cancellation must not hold the server's shutdown
        log.warning("server stop: %s still running after %.0f s; stopping anyway",
                    ", ".join(sorted(t.get_name() for t in stuck)), STOP_SECONDS)
    await asyncio.to_thread(app[POOL].close)
    await asyncio.to_thread(app[LIGHT].close)
    await asyncio.to_thread(app[STATE].store.close)


async def _every(seconds: float, job: Callable[[], Awaitable[None]]) -> None:
    """Run `job` now and then every `seconds`; a failure is logged and retried within 30 s."""
    while True:
        wait = seconds
        try:
            await job()
        except ConnectionError as e:
            log.warning("periodic work postponed: %s", e)
            wait = min(seconds, RETRY_SECONDS)
        except Exception:
            log.exception("periodic work failed")
            wait = min(seconds, RETRY_SECONDS)
        await asyncio.sleep(wait)


async def _note_digest(app: web.Application) -> None:
    """Record the policy digest served now (the newest published bundle's, else the server's own
    policy's), and learn the ones served before."""
    state, own = app[STATE], app[SERVER].policy.digest
    state.digest = await app[LIGHT].run(lambda c: bundles.served_digest(c, own))
    await app[LIGHT].run(lambda c: devices.note_policy_digest(c, state.digest))
    state.known_digests = await app[LIGHT].run(devices.known_digests)


async def _served_policy(app: web.Application) -> None:
    """The extension API follows the newest published bundle (server/served_policy.py)."""
    await app[SERVED].refresh(app[LIGHT])


async def _sweep(app: web.Application) -> None:
    state = app[STATE]
    for device, detail in await app[LIGHT].run(problems.sweep_silent):
        state.problem_opened(device, "silent", detail)


async def _checkpoint_due(app: web.Application) -> None:
    cfg = app[SERVER]
    last = await app[POOL].run(checkpoints.latest)
    if last is None or time.time() - seconds_of(last["ts"]) >= cfg.checkpoint_hours * 3600 - 1:
        await make_checkpoint(app, "daily" if last else "first")


async def make_checkpoint(app: web.Application, reason: str) -> dict[str, object]:
    """Sign the chain heads now (and write the file when the server has a checkpoint folder)."""
    cfg, key = app[SERVER], app[SIGNING_KEY]

    def sign(c: Conn) -> dict[str, object]:
        return checkpoint.make(c, key, reason)

    cp = await app[POOL].run(sign)
    if cfg.checkpoint_dir:
        folder = Path(cfg.checkpoint_dir)
        await asyncio.to_thread(checkpoint.write_file, cp, folder / f"checkpoint-{cp['id']}.json")
    log.info("checkpoint %s signed (%s)", cp["id"], reason)
    return cp


async def _retention(app: web.Application) -> None:
    days = app[SERVED].policy.settings.retention_days
    if days > 0:
        n = await app[POOL].run(lambda c: purge(c, days))
        if n:
            log.info("retention: purged %d events received more than %d days ago", n, days)
