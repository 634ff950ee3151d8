"""Helpers for the OpenID Connect tests: the console's [oidc] settings for a test provider, and one
sign-in walked through as a browser would (console -> provider -> console); the provider and the console as their own processes."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from oidc_provider import CLIENT_ID, CLIENT_SECRET, REVIEWER
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


def serve(cmd: list[str], url: str, cwd: Path) -> subprocess.Popen[bytes]:
    """Start a process and wait until `url` answers."""
    proc = subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    for _ in range(300):
        try:
            urllib.request.urlopen(url, timeout=1)
            return proc
        except OSError:
            if proc.poll() is not None:
                assert proc.stderr is not None
                pytest.fail(f"{cmd[1:3]} exited: " + proc.stderr.read().decode()[-2000:])
            time.sleep(0.1)
    stop(proc)
    pytest.fail(f"{url} did not answer")


def stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(10)


def start_provider(folder: Path, port: int, console: str, user: dict[str, Any] = REVIEWER,
                   consent_page: bool = False) -> tuple[subprocess.Popen[bytes], Path]:
    """The test provider as its own process at http://localhost:PORT for a console at `console`,
    and the settings file (`--oidc FILE`) that points the console at it."""
    issuer, redirect = f"http://localhost:{port}", f"{console}/login/oidc/callback"
    (folder / "oidc-secret").write_text(CLIENT_SECRET, encoding="utf-8")
    settings = folder / "oidc.toml"
    settings.write_text(
        f'[oidc]\nissuer = "{issuer}"\nclient_id = "{CLIENT_ID}"\nclient_secret_file = "oidc-secret"\n'
        f'redirect_url = "{redirect}"\nlabel = "District account"\nreviewer_groups = ["postguard-reviewers"]\n',
        encoding="utf-8")
    cmd = [sys.executable, str(Path(__file__).resolve().parent / "oidc_provider.py"), "--host", "localhost",
           "--port", str(port), "--secret-file", str(folder / "oidc-secret"), "--redirect", redirect,
           "--user-json", json.dumps(user)] + (["--consent-page"] if consent_page else [])
    return serve(cmd, f"http://127.0.0.1:{port}/.well-known/openid-configuration", folder), settings
