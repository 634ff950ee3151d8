"""Shared fixtures for the proxy tests: the policy, a recording store, flows, a live mitmdump."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from mitmproxy import http
from mitmproxy.test import tflow

from checker import Policy, load_policy

ROOT = Path(__file__).resolve().parents[2]
PAYLOADS = Path("/work/shared/payloads")
MITMDUMP = Path(sys.executable).with_name("mitmdump")

# A test-only mitmproxy add-on: connect to a local upstream instead of resolving the real host
# name. The client still asks for https://www.facebook.com (CONNECT, SNI and Host unchanged), so
# allow_hosts, the TLS interception and the add-on see exactly what they see in production;
# only the TCP destination of the proxy's upstream connection is swapped. Written to a temp
# file so it never ships with the product.
HOSTMAP_ADDON = '''
from mitmproxy import ctx
from collections.abc import Sequence


class HostMap:
    def load(self, loader):
        loader.add_option("test_hostmap", Sequence[str], [], "host=ip:port (tests only)")

    def server_connect(self, data):
        table = dict(x.split("=", 1) for x in ctx.options.test_hostmap)
        host = data.server.address[0] if data.server.address else None
        dest = table.get(host) or table.get("*")
        if dest:
            ip, port = dest.rsplit(":", 1)
            data.server.address = (ip, int(port))


addons = [HostMap()]
'''


@pytest.fixture(scope="session")
def policy() -> Policy:
    """The default Region 14 policy, loaded once."""
    return load_policy(None)


class RecordingStore:
    """Stands in for `store.open_store(...)` in unit tests: keeps the events in a list."""

    def __init__(self) -> None:
        self.events: list[Any] = []

    def append(self, event: Any) -> int:
        self.events.append(event)
        return len(self.events)

    def submit(self, event: Any) -> Any:
        """As `Store.submit`: a handle that is durable at once (the list is the log)."""
        from store.writer import Pending

        return Pending.settled(str(self.append(event)))

    def close(self) -> None:
        pass

    def actions(self) -> list[str]:
        return [e.action for e in self.events]


@pytest.fixture
def rec() -> RecordingStore:
    return RecordingStore()


def make_flow(method: str, url: str, body: bytes | str = b"", headers: dict[str, str] | None = None,
              *, navigate: bool = False, client: str = "10.0.0.5") -> http.HTTPFlow:
    """A live flow for `url` with wire bytes `body`; `navigate` marks a plain form post."""
    h = dict(headers or {})
    if navigate:
        h.setdefault("sec-fetch-mode", "navigate")
        h.setdefault("sec-fetch-user", "?1")  # the person pressed the button
        h.setdefault("accept", "text/html,application/xhtml+xml")
    else:
        h.setdefault("sec-fetch-mode", "cors")
    raw = body.encode() if isinstance(body, str) else body
    if raw and "content-length" not in {k.lower() for k in h}:
        h["content-length"] = str(len(raw))
    req = http.Request.make(method, url, b"")
    req.raw_content = raw  # wire bytes, whatever Content-Encoding says
    for k, v in h.items():  # after the body: make() would rewrite Content-Length
        req.headers[k] = v
    f = tflow.tflow(req=req)
    f.client_conn.peername = (client, 50000)
    return f


# ---- live proxy helpers --------------------------------------------------------------------

class Mitmdump:
    """A running `mitmdump` subprocess; `port` is read from its "proxy listening at" line."""

    def __init__(self, args: list[str], env: dict[str, str] | None = None) -> None:
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                     env=env, cwd=str(ROOT))
        self.lines: list[str] = []
        self.port = 0
        ready = threading.Event()

        def drain() -> None:  # keep reading, or a full pipe stalls the proxy
            assert self.proc.stdout
            for line in self.proc.stdout:
                self.lines.append(line)
                if "listening at" in line and not ready.is_set():
                    self.port = int(line.rsplit(":", 1)[1].split()[0].strip().strip("."))
                    ready.set()
            ready.set()

        threading.Thread(target=drain, daemon=True).start()
        ready.wait(60)
        if not self.port:
            self.stop()
            raise RuntimeError("mitmdump did not start:\n" + "".join(self.lines[-40:]))

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)

    def rss_kib(self) -> int:
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        return 0


def make_ca_and_upstream_cert(confdir: Path, hosts: list[str]) -> tuple[Path, Path, Path]:
    """Create mitmproxy's CA in `confdir` and a leaf for `hosts` signed by it (for the upstream).

    mitmdump then reuses this CA; the upstream is verified by the proxy against the same CA
    (`ssl_verify_upstream_trusted_ca`), so no test turns certificate checks off.
    """
    from mitmproxy import certs

    store = certs.CertStore.from_store(confdir, "mitmproxy", 2048)
    entry = store.get_cert(hosts[0], hosts, None)
    cert_pem = confdir / "upstream-cert.pem"
    key_pem = confdir / "upstream-key.pem"
    cert_pem.write_bytes(entry.cert.to_pem())
    from cryptography.hazmat.primitives import serialization

    key_pem.write_bytes(entry.privatekey.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption()))
    return confdir / "mitmproxy-ca-cert.pem", cert_pem, key_pem


def write_hostmap(dirpath: Path) -> Path:
    p = dirpath / "test_hostmap_addon.py"
    p.write_text(HOSTMAP_ADDON)
    return p


@pytest.fixture
def mkflow():
    """`make_flow` for test modules (conftest is not importable as a module)."""
    return make_flow


def wait_for(pred, timeout: float = 10.0) -> bool:
    """Poll `pred` until true (for writes the store makes on its own thread)."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return True
        time.sleep(0.05)
    return bool(pred())


# ---- a live proxy in front of a local upstream (session-wide: starting mitmproxy is slow) ----

def load_cases():
    """The extraction helper's payload table (tests/proxy/data/cases.py), shared, not copied."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("pg_cases", Path(__file__).parent / "data" / "cases.py")
    mod = importlib.util.module_from_spec(spec)
    assert spec.loader
    spec.loader.exec_module(mod)
    return mod


COMPOSE_PAGE = """<!doctype html><html lang="en"><head><title>Create post</title></head><body>
<form method="post" action="/composer/mbasic/?av=100001234567890">
<input type="hidden" name="fb_dtsg" value="AQHsampletoken123">
<input type="hidden" name="target" value="100001234567890">
<label for="m">What's on your mind?</label><textarea id="m" name="xc_message"></textarea>
<button id="post" type="submit">Post</button></form></body></html>"""


class ThreadedHttps:
    """Serve an aiohttp app over HTTPS on 127.0.0.1 from a thread with its own loop (test upstreams)."""

    def serve(self, app: Any, cert: Path, key: Path, **runner_kwargs: Any) -> None:
        """Start serving `app`; `self.port` is set when this returns."""
        import asyncio
        import ssl

        from aiohttp import web

        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(cert, key)
        self.loop = asyncio.new_event_loop()
        self.runner = web.AppRunner(app, access_log=None, **runner_kwargs)
        started = threading.Event()

        def run() -> None:
            asyncio.set_event_loop(self.loop)
            self.loop.run_until_complete(self.runner.setup())
            site = web.TCPSite(self.runner, "127.0.0.1", 0, ssl_context=ctx)
            self.loop.run_until_complete(site.start())
            self.port = self.runner.addresses[0][1]
            started.set()
            self.loop.run_forever()

        self.thread = threading.Thread(target=run, daemon=True)
        self.thread.start()
        started.wait(30)

    def stop(self) -> None:
        """Stop the server and its loop."""
        import asyncio

        asyncio.run_coroutine_threadsafe(self.runner.cleanup(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


class Upstream(ThreadedHttps):
    """An aiohttp HTTPS server standing in for every real host; records what reaches it."""

    def __init__(self, cert: Path, key: Path) -> None:
        from aiohttp import web

        self.received: list[tuple[str, str, str, bytes]] = []  # (host, method, path_qs, body)
        self.ws_received: list[bytes] = []

        async def handle(request: web.Request) -> web.StreamResponse:
            if request.path == "/chat" and request.headers.get("upgrade", "").lower() == "websocket":
                ws = web.WebSocketResponse()
                await ws.prepare(request)
                async for m in ws:
                    self.ws_received.append(m.data if isinstance(m.data, bytes) else m.data.encode())
                    await ws.send_bytes(b"ack")
                return ws
            body = await request.read()
            if request.method == "GET":
                if request.path == "/compose":
                    return web.Response(text=COMPOSE_PAGE, content_type="text/html")
                if request.path == "/posted":
                    return web.Response(text="<!doctype html><title>Posted</title><h1>Posted</h1>",
                                        content_type="text/html")
                return web.Response(text="ok")
            self.received.append((request.host.split(":")[0], request.method, request.path_qs, body))
            if request.headers.get("sec-fetch-mode") == "navigate":
                raise web.HTTPFound("/posted")
            return web.json_response({"ok": True})

        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", handle)
        self.serve(app, cert, key, auto_decompress=False)  # raw wire bytes

    def bodies_to(self, path_prefix: str) -> list[bytes]:
        return [b for _h, _m, p, b in self.received if p.startswith(path_prefix)]


def spki(ca: Path) -> str:
    """Base64 SHA-256 of a CA's public key, for Chromium's --ignore-certificate-errors-spki-list."""
    import base64
    import hashlib

    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    cert = x509.load_pem_x509_certificate(ca.read_bytes())
    der = cert.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return base64.b64encode(hashlib.sha256(der).digest()).decode()


class Live:
    """Upstream + `postguard proxy` subprocess + the paths a test needs.

    `upstream` builds the stand-in site from (cert, key) (default: the recording `Upstream`);
    `extra_sets` are more `--set name=value` options for the proxy.
    """

    def __init__(self, tmp: Path, hosts: list[str], *, upstream: Any = None,
                 extra_sets: tuple[str, ...] = (), policy: Path | None = None, db: str | Path | None = None) -> None:
        self.tmp = tmp
        self.confdir = tmp / "conf"
        self.confdir.mkdir()
        self.ca, cert, key = make_ca_and_upstream_cert(self.confdir, hosts)
        self.upstream = (upstream or Upstream)(cert, key)
        self.db = db or tmp / "log.sqlite"  # a SQLite path or a postgresql:// URL
        hostmap = write_hostmap(tmp)
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        sets = [f"scripts={hostmap}", f"test_hostmap=*=127.0.0.1:{self.upstream.port}",
                f"ssl_verify_upstream_trusted_ca={self.ca}", "postguard_max_body_bytes=1000000",
                "postguard_device=test-device", *extra_sets]
        self.proxy = Mitmdump([
            str(Path(sys.executable).with_name("postguard")), "proxy", "--listen", "127.0.0.1:0",
            "--confdir", str(self.confdir), "--db", str(self.db), *(["--policy", str(policy)] if policy else []),
            *[a for v in sets for a in ("--set", v)],
        ], env=env)
        self.port = self.proxy.port

    def spki(self) -> str:
        """The proxy CA's SPKI hash (Chromium trusts it by this)."""
        return spki(self.ca)

    def events(self) -> list[dict[str, Any]]:
        from checker import load_policy
        from enforce import log_config
        from store import open_store

        st = open_store(str(self.db), log_config(load_policy(None)))
        try:
            return list(st.iter_events())
        finally:
            st.close()

    def stop(self) -> None:
        self.proxy.stop()
        self.upstream.stop()


def payload_hosts() -> list[str]:
    cases = load_cases()
    hosts = {"www.facebook.com", "example.org", "www.example.org", "www.reddit.com", "api.twitter.com",
             "edge-chat.facebook.com"}
    for name in cases.names():
        if name not in cases.WEBSOCKET:
            from urllib.parse import urlsplit
            hosts.add(urlsplit(cases.request(name)[1]).hostname)
    return sorted(hosts)


@pytest.fixture(scope="session")
def live(tmp_path_factory) -> Any:
    """A running `postguard proxy` (HTTPS interception through its own CA) and its upstream."""
    if not Path(sys.executable).with_name("postguard").exists():
        pytest.skip("postguard console script not installed in this environment")
    lv = Live(tmp_path_factory.mktemp("live"), payload_hosts())
    yield lv
    lv.stop()


def https_via(proxy_port: int, ca: Path, method: str, url: str, body: bytes | None = None,
              headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    """One request through the proxy with urllib, trusting only the proxy's CA."""
    import ssl
    import urllib.error
    import urllib.request

    ctx = ssl.create_default_context(cafile=str(ca))
    opener = urllib.request.build_opener(
        urllib.request.ProxyHandler({"https": f"http://127.0.0.1:{proxy_port}",
                                     "http": f"http://127.0.0.1:{proxy_port}"}),
        urllib.request.HTTPSHandler(context=ctx))
    req = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with opener.open(req, timeout=60) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


@pytest.fixture(scope="session")
def https():
    """`https_via` for test modules."""
    return https_via


@pytest.fixture(scope="session")
def poll():
    """`wait_for` for test modules."""
    return wait_for
