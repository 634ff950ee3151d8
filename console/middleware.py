"""The console's middlewares: security headers on every response, sign-in and CSRF checks."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from urllib.parse import quote

from aiohttp import web

from console import auth
from console.keys import SESSION_COOKIE, STORE, USER
from console.threads import in_thread

PUBLIC_PREFIXES = ("/login", "/static/")
API_PREFIX = "/api/"
CSP = ("default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self' data:; "
       "form-action 'self'; frame-ancestors 'none'; base-uri 'none'; connect-src 'self'")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def security_headers(request: web.Request, handler: Handler) -> web.StreamResponse:
    """No framing, no sniffing, no referrers to other sites, scripts and styles from this origin only."""
    try:
        resp = await handler(request)
    except web.HTTPException as e:
        resp = e
        _set_security_headers(resp)
        raise
    except ConnectionError:
        # The database is down: say so plainly (writers keep spooling meanwhile).
        resp = web.Response(status=503, text="The interception log is unavailable right now; "
                            "events are being kept and will appear when it is back.")
    _set_security_headers(resp)
    return resp


def _set_security_headers(resp: web.StreamResponse) -> None:
    resp.headers.setdefault("Content-Security-Policy", CSP)
    resp.headers.setdefault("X-Content-Type-Options", "nosniff")
    # same-origin, not no-referrer: with no-referrer browsers send "Origin: null" on form posts.
    resp.headers.setdefault("Referrer-Policy", "same-origin")
    resp.headers.setdefault("X-Frame-Options", "DENY")
    resp.headers.setdefault("Cache-Control", "no-store")


@web.middleware
async def require_login(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every page but the login form and static files needs a live session; every POST a
    matching CSRF token and, when the browser sends one, a same-origin Origin header. The district
    server's device API (under /api/) has its own authentication: signed requests."""
    if request.path.startswith(API_PREFIX):
        return await handler(request)
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
        if not auth.tokens_match(str(token or ""), user.csrf):
            raise web.HTTPForbidden(text="CSRF token missing or wrong; reload the page")
    return await handler(request)
