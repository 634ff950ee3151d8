"""The IT review console: `create_app(config)` builds the aiohttp application."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import aiohttp_jinja2
import jinja2
from aiohttp import web

from console import auth
from store import Store, open_store

HERE = Path(__file__).resolve().parent
SESSION_COOKIE = "pg_session"
LOGIN_CSRF_COOKIE = "pg_login_csrf"
PUBLIC_PREFIXES = ("/login", "/static/")
CSP = ("default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self' data:; "
       "form-action 'self'; frame-ancestors 'none'; base-uri 'none'; connect-src 'self'")


@dataclass
class ConsoleConfig:
    """Where the log is, which policy to quote, and session settings."""

    db: str
    policy_dir: str | None = None
    policy: Any = None            # an already loaded policy (wins over policy_dir)
    store: Store | None = None    # an already open store (the caller closes it)
    page_size: int = 50
    session_hours: float = 12.0
    secure_cookies: bool = False  # set when served behind TLS
    max_login_failures: int = 5
    lockout_seconds: float = 900.0
    extra: dict[str, Any] = field(default_factory=dict)


CONFIG = web.AppKey("config", ConsoleConfig)
STORE = web.AppKey("store", Store)
POLICY = web.AppKey("policy", object)
LOGIN_FAILS = web.AppKey("login_fails", dict)
USER = web.RequestKey("user", auth.User)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


async def in_thread(fn: Callable[..., Any], *args: Any, **kw: Any) -> Any:
    """Run blocking store work off the event loop."""
    return await asyncio.to_thread(fn, *args, **kw)


@web.middleware
async def security_headers(request: web.Request, handler: Handler) -> web.StreamResponse:
    """No framing, no sniffing, no referrers to other sites, scripts and styles from this origin only."""
    try:
        resp = await handler(request)
    except web.HTTPException as e:
        resp = e
        _headers(resp)
        raise
    except ConnectionError:
        # The database is down: say so plainly (writers keep spooling meanwhile).
        resp = web.Response(status=503, text="The interception log is unavailable right now; "
                            "events are being kept and will appear when it is back.")
    _headers(resp)
    return resp


def _headers(resp: web.StreamResponse) -> None:
    resp.headers.setdefault("Content-Security-Policy", CSP)
    resp.headers.setdefault("X-Content-Type-Options", "nosniff")
    # same-origin, not no-referrer: with no-referrer browsers send "Origin: null" on form posts.
    resp.headers.setdefault("Referrer-Policy", "same-origin")
    resp.headers.setdefault("X-Frame-Options", "DENY")
    resp.headers.setdefault("Cache-Control", "no-store")


@web.middleware
async def require_login(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every page but the login form and static files needs a live session; every POST a
    matching CSRF token and, when the browser sends one, a same-origin Origin header."""
    st = request.app[STORE]
    user = await in_thread(auth.session_user, st, request.cookies.get(SESSION_COOKIE))
    if user is not None:
        request[USER] = user
    if request.method not in ("GET", "HEAD"):
        origin = request.headers.get("Origin")
        if origin is not None and origin != f"{request.scheme}://{request.host}":
            raise web.HTTPForbidden(text="cross-origin request refused")
    if request.path.startswith(PUBLIC_PREFIXES):
        return await handler(request)
    if user is None:
        if request.method in ("GET", "HEAD"):
            raise web.HTTPSeeOther(f"/login?next={quote(request.path_qs, safe='')}")
        raise web.HTTPForbidden(text="sign in first")
    if request.method not in ("GET", "HEAD"):
        form = await request.post()
        token = form.get("csrf") or request.headers.get("X-CSRF-Token")
        if not auth.same(str(token or ""), user.csrf):
            raise web.HTTPForbidden(text="CSRF token missing or wrong; reload the page")
    return await handler(request)


async def _store_ctx(app: web.Application) -> AsyncIterator[None]:
    cfg = app[CONFIG]
    policy = cfg.policy
    if policy is None:
        from checker import load_policy

        policy = await in_thread(load_policy, cfg.policy_dir)
    app[POLICY] = policy
    own = cfg.store is None
    st = cfg.store or await in_thread(open_store, cfg.db, policy)
    app[STORE] = st
    yield
    if own:
        await in_thread(st.close)


async def _context(request: web.Request) -> dict[str, Any]:
    user = request.get(USER)
    return {"user": user, "csrf": user.csrf if user else "", "path": request.path}


def create_app(config: ConsoleConfig) -> web.Application:
    """The console application (the tests build it the same way)."""
    from console import views

    app = web.Application(middlewares=[security_headers, require_login], client_max_size=256 * 1024)
    app[CONFIG] = config
    app[LOGIN_FAILS] = {}
    env = aiohttp_jinja2.setup(app, loader=jinja2.FileSystemLoader(HERE / "templates"),
                               autoescape=jinja2.select_autoescape(default=True),
                               context_processors=[_context])
    env.filters["when"] = lambda ts: (ts or "")[:19].replace("T", " ")
    env.globals["static"] = lambda name: str(app.router["static"].url_for(filename=name))
    app.cleanup_ctx.append(_store_ctx)
    app.router.add_get("/login", views.login_form)
    app.router.add_post("/login", views.login)
    app.router.add_post("/logout", views.logout)
    app.router.add_get("/", views.home)
    app.router.add_get("/events", views.event_list)
    app.router.add_get("/events/{uid}", views.event_page)
    app.router.add_post("/events/{uid}/review", views.review)
    app.router.add_get("/dashboard", views.dashboard)
    app.router.add_get("/export.{fmt}", views.export)
    app.router.add_get("/audit", views.audit)
    app.router.add_post("/verify", views.verify)
    app.router.add_static("/static/", HERE / "static", append_version=True, name="static")
    return app
