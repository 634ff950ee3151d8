"""What the console keeps on its application and requests (aiohttp keys), and its cookie names."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from aiohttp import web

from console.auth import LoginThrottle, User
from console.config import ConsoleConfig
from store import Store

if TYPE_CHECKING:
    from checker import Policy

CONFIG = web.AppKey("config", ConsoleConfig)
STORE = web.AppKey("store", Store)
POLICY: web.AppKey[Policy] = web.AppKey("policy")  # the checker is imported when the app starts
# The policy in force now: the loaded one, or (on the district server) the newest published bundle.
POLICY_NOW: web.AppKey[Callable[[], Policy]] = web.AppKey("policy_now")
LOGIN_FAILS = web.AppKey("login_fails", LoginThrottle)  # failed sign-ins per client and name
USER = web.RequestKey("user", User)

def current_policy(app: web.Application) -> Policy:
    """The policy the pages quote and the queue ranks by, as of now."""
    return app[POLICY_NOW]()


SESSION_COOKIE = "pg_session"
LOGIN_CSRF_COOKIE = "pg_login_csrf"
