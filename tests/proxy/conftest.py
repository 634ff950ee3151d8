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

def in_ci() -> bool:
    return bool(os.environ.get("CI"))


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


def spki_sha256_b64(ca_pem: Path) -> str:
    """The base64 SHA-256 of the CA's SubjectPublicKeyInfo (Chromium's SPKI allow-list format)."""
    import base64
    import hashlib

    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    cert = x509.load_pem_x509_certificate(ca_pem.read_bytes())
    spki = cert.public_key().public_bytes(serialization.Encoding.DER,
                                          serialization.PublicFormat.SubjectPublicKeyInfo)
    return base64.b64encode(hashlib.sha256(spki).digest()).decode()


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
