"""`postguard server --oidc FILE`: the district server's console signs a reviewer in through the
test provider, both as their own processes, walked through with an HTTP client as a browser would."""

from __future__ import annotations

import socket
import sys
from pathlib import Path

import aiohttp
import pytest
from oidc_helpers import serve, start_provider, stop
from oidc_provider import REVIEWER
from yarl import URL

pytestmark = pytest.mark.slow


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_server_console_signs_in_with_oidc(tmp_path: Path) -> None:
    sport, pport = free_port(), free_port()
    server = f"http://127.0.0.1:{sport}"
    provider, settings = start_provider(tmp_path, pport, server)
    try:
        proc = serve([sys.executable, "-m", "postguard", "server", "--db", str(tmp_path / "server.sqlite"),
                      "--listen", f"127.0.0.1:{sport}", "--signing-key", str(tmp_path / "server.key"),
                      "--oidc", str(settings)], server + "/login", tmp_path)
        try:
            async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as s:
                async with s.get(server + "/login") as r:
                    assert "Sign in with District account" in await r.text()
                async with s.get(server + "/login/oidc?next=/devices", allow_redirects=False) as r:
                    assert r.status == 303
                    authorize = r.headers["Location"]
                assert authorize.startswith(f"http://localhost:{pport}/authorize?")
                async with s.get(authorize, allow_redirects=False) as r:
                    assert r.status == 302
                    callback = URL(r.headers["Location"])
                async with s.get(server + callback.path_qs, allow_redirects=False) as r:
                    assert r.status == 200, await r.text()
                async with s.get(server + "/devices", allow_redirects=False) as r:
                    assert r.status == 200 and REVIEWER["email"] in await r.text()
        finally:
            stop(proc)
    finally:
        stop(provider)
    # The server's own first admin (local, break-glass) was made as usual.
    assert (tmp_path / "var" / "console-admin.txt").exists()
