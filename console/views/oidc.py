"""Signing in with the district's accounts (OpenID Connect, authorization code + PKCE):
GET /login/oidc sends the browser to the provider; GET /login/oidc/callback checks what comes back,
maps the account to a role and starts a session. Both are under the public /login prefix."""

from __future__ import annotations

import aiohttp_jinja2
from aiohttp import web

from console import auth
from console.keys import CONFIG, STORE
from console.oidc import (
    CALLBACK_PATH,
    FLOW_COOKIE,
    FLOW_SECONDS,
    Flow,
    OidcError,
    role_of,
    settings_from,
    username_of,
)
from console.oidc_client import PROVIDER, Provider
from console.threads import in_thread
from console.views.signin import _secure, login_form, safe_next, start_session

START_PATH = "/login/oidc"
_REFUSED = {
    "local": "A local console account has this name; sign in with its password instead.",
    "disabled": "Your console account is disabled; ask a console admin.",
}


def setup(app: web.Application) -> None:
    """Turn OpenID Connect sign-in on when `ConsoleConfig.extra["oidc"]` is set (a bad setting
    raises ValueError here, before anything is served)."""
    settings = settings_from(app[CONFIG].extra)
    if settings is None:
        return
    app[PROVIDER] = Provider(settings)
    app.router.add_get(START_PATH, start)
    app.router.add_get(CALLBACK_PATH, callback)

    async def close(app: web.Application) -> None:
        await app[PROVIDER].close()
    app.on_cleanup.append(close)


async def _refuse(request: web.Request, e: OidcError, who: str = "?") -> web.StreamResponse:
    await in_thread(request.app[STORE].audit, who, "login:oidc-refused", None, e.reason)
    resp = await login_form(request, e.message, e.status)
    resp.del_cookie(FLOW_COOKIE, path=START_PATH)
    return resp


async def start(request: web.Request) -> web.StreamResponse:
    """Send the browser to the provider, with this sign-in's state in a cookie. SameSite=Lax: the
    provider's redirect back is a cross-site navigation, on which Strict cookies are not sent."""
    flow = Flow.start(safe_next(request.query.get("next")))
    try:
        url = await request.app[PROVIDER].authorization_url(flow)
    except OidcError as e:
        return await _refuse(request, e)
    resp = web.HTTPSeeOther(url)
    resp.set_cookie(FLOW_COOKIE, flow.cookie(), httponly=True, samesite="Lax", path=START_PATH,
                    secure=_secure(request), max_age=FLOW_SECONDS)
    raise resp


async def callback(request: web.Request) -> web.StreamResponse:
    """Check state, exchange the code (with the PKCE verifier), verify the ID token (signature,
    iss, aud, exp, nonce), map the account to a role, and start a session."""
    q = request.query
    flow = Flow.from_cookie(request.cookies.get(FLOW_COOKIE))
    if "error" in q:
        return await _refuse(request, OidcError("The sign-in was cancelled or refused by the identity provider.",
                                                f"provider said {q['error'][:40]!r}"))
    if flow is None or not auth.tokens_match(q.get("state"), flow.state):
        return await _refuse(request, OidcError("The sign-in expired or was started in another window; "
                                                "please sign in again.", "state missing or wrong"))
    code = q.get("code", "")
    if not code or len(code) > 4096:
        return await _refuse(request, OidcError("The identity provider sent no sign-in code.", "no code", 400))
    provider, st = request.app[PROVIDER], request.app[STORE]
    try:
        claims = await provider.sign_in(code, flow)
        name = username_of(provider.s, claims)
    except OidcError as e:
        return await _refuse(request, e)
    if not auth.valid_name(name):
        return await _refuse(request, OidcError(
            "Your account name cannot be used in the console (letters, digits, '.', '-', '_', '@', up to 64); "
            "tell IT.", "account name not usable"))
    try:
        role = role_of(provider.s, name, claims)
    except OidcError as e:
        return await _refuse(request, e, name)
    if role is None:
        return await _refuse(request, OidcError(
            f"{name} may not use the review console: ask IT to add you to the postguard reviewers or admins.",
            "no role for this account"), name)
    result = await in_thread(auth.sign_in_external, st, name, role, auth.EXTERNAL_PASSWORD, "oidc")
    if result in _REFUSED:
        return await _refuse(request, OidcError(_REFUSED[result], f"{result} account"), name)
    await in_thread(st.audit, name, "login:oidc", None, f"{provider.s.issuer} as {role}")
    # A page, not a redirect: the browser arrived from the provider's site, and a redirect from here
    # would still be cross-site, so the Strict session cookie would not go with it.
    resp = aiohttp_jinja2.render_template("login_done.html", request, {"next": safe_next(flow.next)})
    await start_session(request, resp, name)
    resp.del_cookie(FLOW_COOKIE, path=START_PATH)
    return resp
