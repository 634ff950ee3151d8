"""A real mitmproxy (mitmdump, or the agent's own `postguard proxy`) in front of a local HTTPS site,
for the device-CA tests.

The site is `openssl s_server` with a certificate from a test CA of its own, for the names the
tests ask for (all fictional stand-ins for the real hosts). The proxy runs in upstream mode behind a
small CONNECT forwarder that sends every tunnel to that site, so the proxy still sees the host name
the client asked for (as it does in the agent's regular mode): nothing resolves a name and nothing
leaves the machine.
"""

from __future__ import annotations

import asyncio
import datetime
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

MITMDUMP = Path(sys.executable).with_name("mitmdump")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_listening(port: int, proc: subprocess.Popen, what: str, timeout: float = 30.0) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with {proc.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"{what} did not listen on {port} within {timeout} s")


def site_cert(folder: Path, names: list[str]) -> tuple[Path, Path, Path]:
    """A test CA (its certificate) and a leaf for `names` signed by it (certificate, key)."""
    now = datetime.datetime.now(datetime.UTC)
    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test site CA (fictional)")])

    def base(subject: x509.Name, pub: ec.EllipticCurvePublicKey) -> x509.CertificateBuilder:
        return (x509.CertificateBuilder().subject_name(subject).issuer_name(ca_name).public_key(pub)
                .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(hours=1))
                .not_valid_after(now + datetime.timedelta(days=2)))

    ca = base(ca_name, ca_key.public_key()).add_extension(
        x509.BasicConstraints(ca=True, path_length=None), critical=True).sign(ca_key, hashes.SHA256())
    leaf = base(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])]), key.public_key()).add_extension(
        x509.SubjectAlternativeName([x509.DNSName(n) for n in names]), critical=False).sign(ca_key, hashes.SHA256())
    paths = folder / "site-ca.pem", folder / "site.pem", folder / "site.key"
    paths[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(leaf.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return paths


class Forwarder:
    """A CONNECT proxy that tunnels every request to 127.0.0.1:`target`, on its own thread."""

    def __init__(self, target: int) -> None:
        self.target = target
        self.loop = asyncio.new_event_loop()
        started = threading.Event()

        async def pipe(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
            try:
                while data := await r.read(65536):
                    w.write(data)
                    await w.drain()
            finally:
                w.close()

        async def handle(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
            while (await r.readline()) not in (b"\r\n", b"\n", b""):
                pass
            ur, uw = await asyncio.open_connection("127.0.0.1", self.target)
            w.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
            await w.drain()
            await asyncio.gather(pipe(r, uw), pipe(ur, w), return_exceptions=True)

        def run() -> None:
            asyncio.set_event_loop(self.loop)
            self.server = self.loop.run_until_complete(asyncio.start_server(handle, "127.0.0.1", 0))
            self.port = self.server.sockets[0].getsockname()[1]
            started.set()
            self.loop.run_forever()

        self.thread = threading.Thread(target=run, daemon=True)
        self.thread.start()
        started.wait(10)

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.server.close)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


@dataclass
class Proxied:
    """The site, the forwarder and the proxy; `port` is the proxy's."""

    site: subprocess.Popen
    forwarder: Forwarder
    proxy: subprocess.Popen
    port: int
    log: Path

    def stop(self) -> None:
        for p in (self.proxy, self.site):
            p.terminate()
        for p in (self.proxy, self.site):
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(5)
        self.forwarder.stop()


def start(tmp: Path, confdir: Path, site_names: list[str], sets: tuple[str, ...] = ()) -> Proxied:
    """mitmdump with `confdir` (the CA under test) in front of a site serving `site_names`."""
    def mitmdump(port: int) -> list[str]:
        return [str(MITMDUMP), "--listen-host", "127.0.0.1", "--listen-port", str(port), "--set", f"confdir={confdir}",
                *(a for s in sets for a in ("--set", s))]

    return start_proxy(tmp, site_names, mitmdump)


def start_proxy(tmp: Path, site_names: list[str], command: Callable[[int], list[str]],
                env: dict[str, str] | None = None) -> Proxied:
    """`command(port)` (a mitmproxy listening on 127.0.0.1:port) in front of a site serving
    `site_names`, through the forwarder (upstream mode) and trusting only the site's test CA."""
    site_ca, cert, key = site_cert(tmp, site_names)
    site_port = free_port()
    site = subprocess.Popen(["openssl", "s_server", "-accept", f"127.0.0.1:{site_port}", "-cert", str(cert),
                             "-key", str(key), "-www", "-quiet"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_listening(site_port, site, "openssl s_server")
    fwd = Forwarder(site_port)
    port = free_port()
    log = tmp / "proxy.log"
    argv = [*command(port), "--set", f"mode=upstream:http://127.0.0.1:{fwd.port}",
            "--set", f"ssl_verify_upstream_trusted_ca={site_ca}"]
    with open(log, "wb") as out:
        proxy = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, env=env)
    try:
        wait_listening(port, proxy, "the proxy")
    except RuntimeError:
        Proxied(site, fwd, proxy, port, log).stop()
        raise
    return Proxied(site, fwd, proxy, port, log)
