"""`postguard server` as a process: TLS built in (--cert/--key), the device API and the console on one
port, the first admin created, a clean stop."""

from __future__ import annotations

import datetime
import ipaddress
import os
import signal
import socket
import ssl
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from postguard.cli import UsageError
from postguard.commands.server import tls_context


def self_signed(folder: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and its key (PEM files)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "postguard test")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = folder / "server.crt", folder / "server.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_server_serves_https_with_its_own_certificate(tmp_path: Path) -> None:
    cert, key = self_signed(tmp_path)
    port = free_port()
    env = {**os.environ, "POSTGUARD_DB": ""}
    proc = subprocess.Popen(
        [sys.executable, "-m", "postguard", "server", "--db", str(tmp_path / "s.sqlite"), "--listen",
         f"127.0.0.1:{port}", "--cert", str(cert), "--key", str(key), "--signing-key", str(tmp_path / "sig.key")],
        cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        ctx = ssl.create_default_context(cafile=str(cert))
        body = None
        for _ in range(300):  # the policy loads first
            try:
                with urllib.request.urlopen(f"https://127.0.0.1:{port}/api/v1/health", context=ctx, timeout=2) as r:
                    body = r.read()
                break
            except OSError:
                if proc.poll() is not None:
                    break
                time.sleep(0.1)
        assert body is not None and b'"ok": true' in body, proc.stdout.read() if proc.poll() is not None else ""
        with urllib.request.urlopen(f"https://127.0.0.1:{port}/login", context=ctx, timeout=5) as r:
            assert r.status == 200 and "Secure" in r.headers["Set-Cookie"]
        admin = (tmp_path / "var" / "console-admin.txt")
        assert admin.exists() and oct(admin.stat().st_mode & 0o777) == "0o600"
        assert (tmp_path / "sig.key").stat().st_mode & 0o077 == 0 and (tmp_path / "sig.key.pub").exists()
    finally:
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 0, out
    assert "https://127.0.0.1" in out


def test_tls_options_go_together(tmp_path: Path) -> None:
    assert tls_context(None, None) is None
    with pytest.raises(UsageError, match="go together"):
        tls_context(str(tmp_path / "a.crt"), None)
    with pytest.raises(UsageError, match="--cert/--key"):
        tls_context(str(tmp_path / "a.crt"), str(tmp_path / "a.key"))
