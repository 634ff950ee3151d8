"""What the console keeps on its application and requests (aiohttp keys), and its cookie names."""

from __future__ import annotations

from aiohttp import web

from console.auth import User
from console.config import ConsoleConfig
from store import Store

CONFIG = web.AppKey("config", ConsoleConfig)
STORE = web.AppKey("store", Store)
POLICY = web.AppKey("policy", object)
LOGIN_FAILS = web.AppKey("login_fails", dict)
USER = web.RequestKey("user", User)

SESSION_COOKIE = "pg_session"
LOGIN_CSRF_COOKIE = "pg_login_csrf"
