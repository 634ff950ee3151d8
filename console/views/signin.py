"""Signing in and out of the console (a session cookie; CSRF double-submit on the login form)."""

from __future__ import annotations

import re
import secrets
import time
from urllib.parse import urlsplit

import aiohttp_jinja2
from aiohttp import web

from console import auth
from console.keys import CONFIG, LOGIN_CSRF_COOKIE, LOGIN_FAILS, SESSION_COOKIE, STORE, USER
from console.oidc_client import oidc_label
from console.threads import in_thread

_LOCAL_PATH = re.compile(r"/(?![/\\])[!#-\[\]-~]*")  # printable ASCII, no space, backslash or control


def safe_next(nxt: str | None) -> str:
    """Only a path on this site: never an open redirect. Browsers drop tabs and newlines from a
    URL ("/\t/evil.example" is "//evil.example") and read "\\" as "/", so anything but plain
    printable ASCII is refused outright."""
    if not nxt or not _LOCAL_PATH.fullmatch(nxt):
        return "/events"
    parts = urlsplit(nxt)
    return nxt if not parts.scheme and not parts.netloc else "/events"


def _secure(request: web.Request) -> bool:
    """Cookies are Secure when configured so, and whenever the console is served over HTTPS."""
    return request.app[CONFIG].secure_cookies or request.secure


async def login_form(request: web.Request, error: str | None = None, status: int = 200) -> web.Response:
    """The sign-in form, with a double-submit CSRF token (there is no session yet)."""
    # Reuse the browser's token: a second load (another tab, a favicon fetch bounced here)
    # must not invalidate the form already on screen.
    token = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    if not re.fullmatch(r"[A-Za-z0-9_-]{32}", token):
        token = secrets.token_urlsafe(24)
    resp = aiohttp_jinja2.render_template("login.html", request, {
        "login_csrf": token, "next": safe_next(request.query.get("next")), "error": error,
        "oidc_label": oidc_label(request),
        }, status=status)
    resp.set_cookie(LOGIN_CSRF_COOKIE, token, httponly=True, samesite="Strict", path="/login",
                    secure=_secure(request))
    return resp


async def login(request: web.Request) -> web.StreamResponse:
    """Check the password; start a session."""
    form = await request.post()
    if not auth.tokens_match(str(form.get("csrf") or ""), request.cookies.get(LOGIN_CSRF_COOKIE)):
        return await login_form(request, "The form expired; please try again.", 403)
    name, password = str(form.get("username") or "").strip(), str(form.get("password") or "")
    st = request.app[STORE]
    throttle = request.app[LOGIN_FAILS]
    client = request.remote or "?"
    now = time.monotonic()
    if throttle.locked(client, name, now):
        await in_thread(st.audit, name if auth.valid_name(name) else "?", "login:locked", None, f"from {client}")
        return await login_form(request, "Too many failed attempts; try again later.", 429)
    role = await in_thread(auth.check_password, st, name, password) if auth.valid_name(name) else None
    if role is None:
        throttle.failed(client, name, now)
        await in_thread(st.audit, name if auth.valid_name(name) else "?", "login:failed", None, f"from {client}")
        return await login_form(request, "Wrong user name or password.", 401)
    throttle.succeeded(client, name)
    await in_thread(st.audit, name, "login")
    resp = web.HTTPSeeOther(safe_next(str(form.get("next") or "")))
    await start_session(request, resp, name)
    resp.del_cookie(LOGIN_CSRF_COOKIE, path="/login")
    raise resp


async def start_session(request: web.Request, resp: web.StreamResponse, name: str) -> None:
    """A new session for `name`, its cookie set on `resp` (password and OpenID Connect sign-in)."""
    cfg = request.app[CONFIG]
    token = await in_thread(auth.new_session, request.app[STORE], name, cfg.session_hours)
    resp.set_cookie(SESSION_COOKIE, token, httponly=True, samesite="Strict", path="/",
                    secure=_secure(request), max_age=int(cfg.session_hours * 3600))


async def logout(request: web.Request) -> web.StreamResponse:
    """End the session."""
    st = request.app[STORE]
    await in_thread(auth.end_session, st, request.cookies.get(SESSION_COOKIE))
    await in_thread(st.audit, request[USER].name, "logout")
    resp = web.HTTPSeeOther("/login")
    resp.del_cookie(SESSION_COOKIE, path="/")
    raise resp
