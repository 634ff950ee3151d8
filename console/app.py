"""The IT review console: `create_app(config)` composes the aiohttp application."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp_jinja2
import jinja2
from aiohttp import web

from console.auth import LoginThrottle
from console.config import ConsoleConfig
from console.keys import CONFIG, LOGIN_FAILS, POLICY, POLICY_NOW, STORE, USER
from console.middleware import require_login, security_headers
from console.routes import add_routes
from console.threads import in_thread
from console.views import export as export_views
from console.views import oidc as oidc_views
from console.views.devices import banner_count
from store import StoreConfig, open_store

TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"


async def _policy_and_log(app: web.Application) -> AsyncIterator[None]:
    cfg = app[CONFIG]
    policy = cfg.policy
    if policy is None:
        from checker import load_policy

        policy = await in_thread(load_policy, cfg.policy_dir)
    app[POLICY] = policy
    app[POLICY_NOW] = cfg.policy_source or (lambda: policy)
    if cfg.store is not None:  # the caller's: the caller closes it
        app[STORE] = cfg.store
        yield
        return
    from checker import redact

    config = StoreConfig(policy.settings.content, policy.settings.retention_days, lambda text: redact(text, policy))
    st = await in_thread(open_store, cfg.db, config)
    app[STORE] = st
    yield
    await in_thread(st.close)


async def _template_context(request: web.Request) -> dict[str, Any]:
    user = request.get(USER)
    problems = await banner_count(request) if user else 0
    return {"user": user, "csrf": user.csrf if user else "", "path": request.path, "device_problems": problems}


def create_app(config: ConsoleConfig) -> web.Application:
    """The console application (the tests build it the same way)."""
    app = web.Application(middlewares=[security_headers, require_login], client_max_size=256 * 1024)
    app[CONFIG] = config
    app[LOGIN_FAILS] = LoginThrottle(config.max_login_failures, 4 * config.max_login_failures, config.lockout_seconds)
    env = aiohttp_jinja2.setup(app, loader=jinja2.FileSystemLoader(TEMPLATES_DIR),
                               autoescape=jinja2.select_autoescape(default=True),
                               context_processors=[_template_context])
    env.filters["when"] = lambda ts: (ts or "")[:19].replace("T", " ")
    env.globals["static"] = lambda name: str(app.router["static"].url_for(filename=name))
    app.cleanup_ctx.append(_policy_and_log)
    add_routes(app)
    oidc_views.setup(app)  # OpenID Connect sign-in, when ConsoleConfig.extra["oidc"] is set
    export_views.setup(app)  # an incident's record for the district's lawyers
    return app
