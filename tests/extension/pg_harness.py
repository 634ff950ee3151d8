"""Real Chromium with the unpacked extension, a local backend and local copies of the sites.

Used by the browser tests and by `bench/extension`. Everything binds 127.0.0.1 on free
ports; the sites' real host names are pointed at the fixture server with
`--host-resolver-rules`, over HTTPS with a throw-away certificate.
"""

from __future__ import annotations

import asyncio
import atexit
import datetime as dt
import os
import shutil
import ssl
import tempfile
import threading
from pathlib import Path
from typing import Any

from aiohttp import web

from extension.backend import BackendConfig, create_app

ROOT = Path(__file__).resolve().parents[2]
EXT_DIR = ROOT / "extension" / "webext"
SITES_DIR = Path(__file__).resolve().parent / "sites"
CHROMIUM = "/usr/bin/chromium"


def require_chromium() -> None:
    """For browser test modules: Debian's Chromium must be there in CI; elsewhere skip the module."""
    import os

    import pytest

    if not Path(CHROMIUM).exists():
        if os.environ.get("CI"):
            raise RuntimeError(f"{CHROMIUM} is required in CI")
        pytest.skip(f"{CHROMIUM} is not installed", allow_module_level=True)

TOKEN = "browser-test-token-0123456789"
PAGES = {  # host -> fixture page
    "www.facebook.com": "facebook.html",
    "x.com": "x.html",
    "www.linkedin.com": "linkedin.html",
    "www.instagram.com": "instagram.html",
    "www.youtube.com": "youtube.html",
    "www.reddit.com": "reddit.html",
    "www.tiktok.com": "tiktok.html",
    "mastodon.social": "mastodon.html",
}


class RecordingLog:
    """Stands in for the interception log: keeps every appended event in memory."""

    def __init__(self) -> None:
        self.events: list[Any] = []
        self.lock = threading.Lock()
        self.device = "test-device"

    def append(self, event: Any) -> str:
        """Record `event`; return an id like the store does."""
        with self.lock:
            self.events.append(event)
            return f"ev{len(self.events)}"

    def submit(self, event: Any) -> Any:
        """As `Store.submit`: a handle that is durable at once (the list is the log)."""
        from store.writer import Pending

        return Pending.settled(RecordingLog.append(self, event))

    def find_requests(self, keys: list[tuple[str, str, str]]) -> dict[tuple[str, str, str], str]:
        """As `Store.find_requests`: the recorded events of these (device, request id, action)."""
        with self.lock:
            out: dict[tuple[str, str, str], str] = {}
            for i, ev in enumerate(self.events, 1):
                out.setdefault((ev.device or self.device, ev.request_id, ev.action), f"ev{i}")
        return {k: out[k] for k in keys if k in out}

    def close(self) -> None:
        """Nothing to release."""


class TeeLog(RecordingLog):
    """Records in memory (easy to assert on) and writes to a real interception log too."""

    def __init__(self, real: Any) -> None:
        super().__init__()
        self.real = real

    def append(self, event: Any) -> str:
        """Record `event` and append it to the real log; return the real log's id."""
        super().append(event)
        return self.real.append(event)

    def submit(self, event: Any) -> Any:
        """Record `event` and submit it to the real log; the real log's handle."""
        super().append(event)
        return self.real.submit(event)


def make_cert(directory: Path, hosts: list[str]) -> tuple[Path, Path]:
    """A self-signed certificate for `hosts` (the browser is told to accept it)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "postguard test sites")])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=2))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(h) for h in hosts]), critical=False)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


def sites_app() -> web.Application:
    """Serves each fixture page at its site's host name, whatever the path."""
    async def page(request: web.Request) -> web.StreamResponse:
        if request.path == "/__fixtures/common.js":
            return web.FileResponse(SITES_DIR / "common.js")
        name = PAGES.get(request.host.split(":")[0])
        if name is None:
            return web.Response(status=404, text="no fixture for this host")
        return web.FileResponse(SITES_DIR / name, headers={"Cache-Control": "no-store"})

    app = web.Application()
    app.router.add_get("/{tail:.*}", page)
    return app


class Servers:
    """The fixture sites (HTTPS) and the backend, on one event loop in a background thread."""

    def __init__(self, policy: Any, log: Any, **config: Any) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.tmp = Path(tempfile.mkdtemp(prefix="pg-servers-"))
        self.config = BackendConfig(policy=policy, token=TOKEN, store=log, **config)
        self.runners: list[web.AppRunner] = []
        self.site_port = self.backend_port = 0

    def _run(self, coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(30)

    async def _serve(self, app: web.Application, ssl_ctx: ssl.SSLContext | None) -> int:
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=ssl_ctx)
        await site.start()
        self.runners.append(runner)
        return runner.addresses[0][1]

    def start(self) -> Servers:
        """Start both servers; ports land in `site_port` and `backend_port`."""
        self.thread.start()
        cert, key = make_cert(self.tmp, list(PAGES))
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(cert, key)
        self.site_port = self._run(self._serve(sites_app(), ctx))
        self.backend_port = self._run(self._serve(create_app(self.config), None))
        return self

    def stop(self) -> None:
        """Stop the servers and the loop."""
        for r in self.runners:
            self._run(r.cleanup())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        shutil.rmtree(self.tmp, ignore_errors=True)


def launch(playwright: Any, site_port: int, profile: Path) -> Any:
    """Chromium (Debian's, headless) with the unpacked extension and the sites mapped locally."""
    rules = ", ".join(f"MAP {h} 127.0.0.1:{site_port}" for h in PAGES)
    ext = str(EXT_DIR)
    return playwright.chromium.launch_persistent_context(
        str(profile), executable_path=CHROMIUM, headless=True, ignore_https_errors=True, env=home_env(),
        args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
              "--disable-component-update", "--no-first-run", "--disable-sync", "--ignore-certificate-errors",
              f"--host-resolver-rules={rules}", f"--disable-extensions-except={ext}", f"--load-extension={ext}"],
    )


def service_worker(ctx: Any) -> Any:
    """The extension's service worker (waiting for it to start if needed)."""
    for sw in ctx.service_workers:
        if sw.url.startswith("chrome-extension://"):
            return sw
    return ctx.wait_for_event("serviceworker", timeout=15000)


def configure(sw: Any, backend_url: str, **extra: Any) -> None:
    """Point the extension at a backend (what a district's managed policy would do)."""
    cfg = {"backendUrl": backend_url, "token": TOKEN, **extra}
    sw.evaluate("cfg => chrome.storage.local.set({pgConfig: cfg, pgQueue: []})", cfg)


def home_env() -> dict[str, str]:
    """Environment for the browser: HOME in a temp dir so nothing touches the real profile."""
    env = dict(os.environ)
    env["HOME"] = tempfile.mkdtemp(prefix="pg-home-")
    atexit.register(shutil.rmtree, env["HOME"], ignore_errors=True)
    return env


def extension_env(policy: Any) -> Any:
    """A generator for a module fixture: the sites and a backend logging to a real SQLite log (tee'd
    in memory), Chromium with the extension, and its service worker; cleaned up when it resumes."""
    from playwright.sync_api import sync_playwright

    from enforce import log_config
    from store import open_store

    profile = Path(tempfile.mkdtemp(prefix="pg-profile-"))
    logdir = Path(tempfile.mkdtemp(prefix="pg-log-"))
    log = TeeLog(open_store(str(logdir / "log.sqlite"), log_config(policy)))
    servers = Servers(policy, log).start()
    with sync_playwright() as p:
        ctx = launch(p, servers.site_port, profile)
        try:
            sw = service_worker(ctx)
            yield {"ctx": ctx, "sw": sw, "log": log, "servers": servers,
                   "backend": f"http://127.0.0.1:{servers.backend_port}"}
        finally:
            ctx.close()
            servers.stop()
            log.real.close()
            shutil.rmtree(logdir, ignore_errors=True)
            shutil.rmtree(profile, ignore_errors=True)
