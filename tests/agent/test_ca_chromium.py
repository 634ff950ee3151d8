"""Real Chromium trusting the device CA as an installed root (its NSS database, ~/.pki/nssdb,
made with NSS's certutil; no --ignore-certificate-errors of any kind), through a real mitmdump 11
with that CA: www.facebook.com loads, mail.google.com is refused with ERR_CERT_INVALID (the name
constraints), and without the CA in the database Chromium refuses both (the trust is the CA's).
Host resolution is off in the browser and the site is local, so nothing leaves the machine."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import ca_helpers
import pytest

from agent import ca
from agent.state import StateDir

CHROMIUM = Path("/usr/bin/chromium")
DEVICE = "pc-library-2-1f0c9a7e"  # fictional

pytestmark = pytest.mark.browser


def need(tool: str) -> None:
    if not shutil.which(tool):
        if os.environ.get("CI"):
            pytest.fail(f"{tool} is required in CI (.ci/run installs it)")
        pytest.skip(f"{tool} is not installed (Debian: chromium, libnss3-tools)")


def nss_home(home: Path, ca_pem: Path | None) -> Path:
    """A HOME whose NSS database (what Chromium on Linux trusts) holds `ca_pem` as a trusted CA."""
    db = home / ".pki" / "nssdb"
    db.mkdir(parents=True)
    subprocess.run(["certutil", "-N", "-d", f"sql:{db}", "--empty-password"], check=True, capture_output=True)
    if ca_pem is not None:
        subprocess.run(["certutil", "-A", "-d", f"sql:{db}", "-n", "postguard device CA", "-t", "C,,",
                        "-i", str(ca_pem)], check=True, capture_output=True)
        listed = subprocess.run(["certutil", "-L", "-d", f"sql:{db}"], check=True, capture_output=True, text=True)
        assert "postguard device CA" in listed.stdout
    return home


def visit(home: Path, proxy_port: int, urls: list[str], tmp: Path) -> dict[str, str]:
    """Each URL's outcome in Chromium with this HOME: the HTTP status, or Chromium's net:: error."""
    from playwright.sync_api import Error, sync_playwright

    os.environ.setdefault("PLAYWRIGHT_BROWSERS_PATH", str(tmp / "no-downloads"))
    out: dict[str, str] = {}
    with sync_playwright() as p:
        b = p.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, env={**os.environ, "HOME": str(home)},
            args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  f"--proxy-server=http://127.0.0.1:{proxy_port}",
                  "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"])
        try:
            page = b.new_page()
            for url in urls:
                try:
                    r = page.goto(url, timeout=30_000)
                    out[url] = str(r.status if r else None)
                except Error as e:
                    out[url] = next((w for w in str(e).split() if w.startswith("net::")), str(e))
        finally:
            b.close()
    return out


def test_chromium_trusting_the_ca_accepts_facebook_and_refuses_mail_google(tmp_path):
    need(str(CHROMIUM))
    need("certutil")
    st = ca.ensure_ca(StateDir(tmp_path / "agent"), ca.domains_for(None), device_id=DEVICE)
    ca_pem = st.confdir / "mitmproxy-ca-cert.pem"
    proxy = ca_helpers.start(tmp_path, st.confdir, ["www.facebook.com", "mail.google.com"], ("upstream_cert=false",))
    urls = ["https://www.facebook.com/", "https://mail.google.com/"]
    try:
        trusted = visit(nss_home(tmp_path / "trusted", ca_pem), proxy.port, urls, tmp_path)
        untrusted = visit(nss_home(tmp_path / "untrusted", None), proxy.port, urls, tmp_path)
    finally:
        proxy.stop()
    assert trusted == {"https://www.facebook.com/": "200", "https://mail.google.com/": "net::ERR_CERT_INVALID"}, \
        proxy.log.read_text()[-2000:]
    assert untrusted["https://www.facebook.com/"] == "net::ERR_CERT_AUTHORITY_INVALID"
