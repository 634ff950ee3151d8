"""Helpers for the OpenID Connect tests: the console's [oidc] settings for a test provider, and one
sign-in walked through as a browser would (console -> provider -> console)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aiohttp
from oidc_provider import CLIENT_ID, CLIENT_SECRET
from yarl import URL

REDIRECT = "http://127.0.0.1:8732/login/oidc/callback"


def oidc_settings(issuer: str, folder: Path, **kw: Any) -> dict[str, Any]:
    """`ConsoleConfig.extra["oidc"]` for the test provider (the secret in a file, as in production)."""
    secret = folder / "oidc-secret"
    secret.write_text(CLIENT_SECRET + "\n", encoding="utf-8")
    return {"issuer": issuer, "client_id": CLIENT_ID, "client_secret_file": str(secret), "redirect_url": REDIRECT,
            "label": "District account", "reviewer_groups": ["postguard-reviewers"],
            "admin_users": ["M.Lindqvist@district.example"], **kw}


async def to_provider(client: Any, next_: str = "/events") -> tuple[Any, str]:
    """Start a sign-in on the console; (response, the provider URL it sends the browser to)."""
    r = await client.get(f"/login/oidc?next={next_}", allow_redirects=False)
    return r, r.headers.get("Location", "")


async def back_from_provider(authorize_url: str) -> str:
    """What the provider's /authorize sends back: the console callback's path and query."""
    async with aiohttp.ClientSession() as s, s.get(authorize_url, allow_redirects=False) as r:
        assert r.status == 302, await r.text()
        loc = URL(r.headers["Location"])
    assert str(loc.with_query(None)) == REDIRECT
    return loc.path_qs


async def sign_in(client: Any) -> Any:
    """The whole round trip; the console's answer to the callback."""
    r, url = await to_provider(client)
    assert r.status == 303, await r.text()
    return await client.get(await back_from_provider(url), allow_redirects=False)
