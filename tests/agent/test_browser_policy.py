"""`postguard agent browser-policy`: the generated files parse and carry the right keys; in real
Chromium (inside a private mount namespace) the policies show as applied on chrome://policy."""

from __future__ import annotations

import base64
import datetime as dt
import json
import os
import plistlib
import re
import shutil
import socket
import ssl
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

import agent.browser_policy as bp
from postguard.cli import main

ROOT = Path(__file__).resolve().parents[2]
EXT = ROOT / "extension" / "webext"
EXT_ID = "cfhkgcbpcbcjkgnkmbohmopdpfchpjla"  # docs/extension.md: the id the manifest's key pins
UPDATE = "https://it.ctreg14.org/postguard/updates.xml"
TOKEN = "bp-test-token-0123456789abcdef"
CHROMIUM = "/usr/bin/chromium"


CA_KEYS: dict[Path, tuple[x509.Certificate, ec.EllipticCurvePrivateKey]] = {}


def make_ca(path: Path, *, constrained: list[str] | None, ca: bool = True, with_key: bool = False) -> bytes:
    """A self-signed certificate (a CA unless `ca=False`), optionally name constrained."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "postguard test-pc-1 proxy CA")])
    now = dt.datetime.now(dt.UTC)
    b = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
         .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(days=1))
         .not_valid_after(now + dt.timedelta(days=30))
         .add_extension(x509.BasicConstraints(ca=ca, path_length=0 if ca else None), critical=True))
    if constrained:
        b = b.add_extension(x509.NameConstraints([x509.DNSName(d) for d in constrained], None), critical=True)
    cert = b.sign(key, hashes.SHA256())
    CA_KEYS[path] = (cert, key)
    pem = cert.public_bytes(serialization.Encoding.PEM)
    if with_key:
        pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption()) + pem
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(pem)
    return cert.public_bytes(serialization.Encoding.DER)


@pytest.fixture
def state(tmp_path: Path) -> Path:
    """An agent state folder with a backend token and an unconstrained proxy CA."""
    st = tmp_path / "state"
    (st / "mitmproxy").mkdir(parents=True)
    (st / "backend.token").write_text(TOKEN + "\n")
    make_ca(st / "mitmproxy" / "mitmproxy-ca-cert.pem", constrained=None)
    return st


def run(state: Path, out: Path, *extra: str) -> int:
    return main(["agent", "browser-policy", "--state", str(state), "--out", str(out), "--update-url", UPDATE, *extra])


def token_args(state: Path) -> list[str]:
    """The backend token in the managed settings (by default there is none: native messaging pairs)."""
    return ["--token-file", str(state / "backend.token")]


def test_by_default_no_token_and_the_server_route_on_request(state, tmp_path):
    out = tmp_path / "out"
    (state / "backend.token").unlink()  # after `agent install` the token is the native host's, not here
    (state / "group.key").write_text("gk-0123456789abcdef0123\n")
    assert run(state, out, "--os", "linux", "--server-url", "https://postguard.ctreg14.org/",
               "--group-key-file", str(state / "group.key")) == 0
    p = json.loads((out / "etc/opt/chrome/policies/managed/postguard.json").read_text())
    assert p["3rdparty"]["extensions"][EXT_ID] == {"backendUrl": "http://127.0.0.1:8731",
                                                   "serverUrl": "https://postguard.ctreg14.org",
                                                   "groupKey": "gk-0123456789abcdef0123"}


def pac_data_url(pac_file: Path) -> str:
    """Chromium reads no PAC from a file: URL, so the policy carries the PAC file's text itself."""
    return "data:application/x-ns-proxy-autoconfig;base64," + base64.b64encode(pac_file.read_bytes()).decode()


def social_hosts() -> list[str]:
    import tomllib

    return tomllib.loads((ROOT / "policies" / "region14" / "social.toml").read_text())["hosts"]


# ---- the extension id and the managed schema ----

def test_id_from_the_manifest_key_is_the_documented_one():
    key = json.loads((EXT / "manifest.json").read_text())["key"]
    assert bp.extension_id_from_key(key) == EXT_ID
    assert bp.read_extension(EXT).chrome_id == EXT_ID


@pytest.mark.parametrize("key", ["not base64!", base64.b64encode(b"not a key").decode()])
def test_a_bad_key_is_a_clear_error(key):
    with pytest.raises(bp.BrowserPolicyError, match="manifest key"):
        bp.extension_id_from_key(key)


def test_a_manifest_without_key_needs_an_id(tmp_path):
    m = json.loads((EXT / "manifest.json").read_text())
    del m["key"]
    (tmp_path / "manifest.json").write_text(json.dumps(m))
    shutil.copy(EXT / "managed_schema.json", tmp_path)
    with pytest.raises(bp.BrowserPolicyError, match='no "key"'):
        bp.read_extension(tmp_path)
    assert bp.read_extension(tmp_path, extension_id="a" * 32).chrome_id == "a" * 32
    with pytest.raises(bp.BrowserPolicyError, match="32 letters"):
        bp.read_extension(tmp_path, extension_id="xyz")


def test_every_setting_the_worker_reads_is_in_the_managed_schema():
    schema = json.loads((EXT / "managed_schema.json").read_text())
    defaults = re.search(r"const DEFAULTS = \{(.*?)\};", (EXT / "sw.js").read_text(), re.S)
    assert defaults
    keys = set(re.findall(r"^\s*(\w+):", defaults.group(1), re.M))
    assert keys == {"backendUrl", "token", "serverUrl", "groupKey", "mode", "failMode", "hints", "checkTimeoutMs"}
    assert keys <= set(schema["properties"])


@pytest.mark.parametrize(("settings", "error"), [
    ({"backendUrl": "http://127.0.0.1:8731", "token": TOKEN, "mode": "warn", "failMode": "block"}, None),
    ({"backendUrl": "http://127.0.0.1:8731", "hints": False, "checkTimeoutMs": 2500}, None),
    ({"mode": "loud"}, "mode: must be one of warn, monitor, off"),
    ({"hints": "yes"}, "hints: must be boolean"),
    ({"checkTimeoutMs": True}, "checkTimeoutMs: must be integer"),
    ({"extraHosts": ["a.example", 3]}, r"extraHosts\[1\]: must be string"),
    ({"backendURL": "x"}, "backendURL: not in the extension's managed schema"),
])
def test_managed_settings_against_the_schema(settings, error):
    errs = bp.schema_errors(settings, bp.read_extension(EXT).schema)
    if error is None:
        assert errs == []
    else:
        assert any(re.search(error, e) for e in errs), errs


# ---- Linux ----

def test_linux_files(state, tmp_path, capsys):
    out = tmp_path / "out"
    assert run(state, out, "--os", "linux", "--fail-mode", "block", *token_args(state)) == 0
    files = {str(p.relative_to(out)) for p in out.rglob("*") if p.is_file()}
    assert files == {"etc/opt/chrome/policies/managed/postguard.json", "etc/chromium/policies/managed/postguard.json",
                     "etc/opt/edge/policies/managed/postguard.json", "etc/firefox/policies/policies.json",
                     "etc/postguard/browser/postguard.pac", "etc/postguard/browser/postguard-ca.pem"}
    for f in files:
        assert (out / f).stat().st_mode & 0o777 == 0o644  # the browser runs as the staff member
    ca_der = x509.load_pem_x509_certificate((out / "etc/postguard/browser/postguard-ca.pem").read_bytes()).public_bytes(
        serialization.Encoding.DER)
    assert b"PRIVATE" not in (out / "etc/postguard/browser/postguard-ca.pem").read_bytes()
    hosts = social_hosts()
    for b in ("opt/chrome", "chromium", "opt/edge"):
        p = json.loads((out / f"etc/{b}/policies/managed/postguard.json").read_text())
        assert p["ExtensionInstallForcelist"] == [f"{EXT_ID};{UPDATE}"]
        assert p["ProxySettings"] == {"ProxyMode": "pac_script", "ProxyPacMandatory": True,
                                      "ProxyPacUrl": pac_data_url(out / "etc/postguard/browser/postguard.pac")}
        assert p["QuicAllowed"] is False
        assert p["3rdparty"] == {"extensions": {EXT_ID: {"backendUrl": "http://127.0.0.1:8731", "token": TOKEN,
                                                          "failMode": "block"}}}
        if b == "opt/edge":
            assert p["InPrivateModeAvailability"] == 1 and "IncognitoModeAvailability" not in p
            assert "CACertificatesWithConstraints" not in p  # Edge takes the CA from the OS store
        else:
            assert p["IncognitoModeAvailability"] == 1
            [ca] = p["CACertificatesWithConstraints"]
            assert base64.b64decode(ca["certificate"]) == ca_der
            assert ca["constraints"] == {"permitted_dns_names": hosts}  # the CA has none: the social hosts
    ff = json.loads((out / "etc/firefox/policies/policies.json").read_text())["policies"]
    assert ff["Proxy"] == {"Mode": "autoConfig", "AutoConfigURL": "file:///etc/postguard/browser/postguard.pac",
                           "Locked": True}
    assert ff["DisablePrivateBrowsing"] is True
    assert ff["Certificates"] == {"Install": ["/etc/postguard/browser/postguard-ca.pem"]}
    assert ff["Preferences"]["network.http.http3.enable"] == {"Value": False, "Status": "locked"}
    assert "ExtensionSettings" not in ff  # no Firefox build given
    pac = (out / "etc/postguard/browser/postguard.pac").read_text()
    assert '"PROXY 127.0.0.1:8080"' in pac and json.dumps(sorted(set(hosts))) in pac
    said = capsys.readouterr().out
    assert "no name constraints" in said and "--firefox-xpi" in said and TOKEN not in said


def test_json_summary_and_a_constrained_ca(state, tmp_path, capsys):
    make_ca(state / "mitmproxy" / "mitmproxy-ca-cert.pem", constrained=["facebook.com", "x.com"])
    out = tmp_path / "out"
    assert run(state, out, "--os", "linux", "--json", "--proxy-listen", "127.0.0.1:9090",
               "--firefox-xpi", "https://it.ctreg14.org/postguard/postguard.xpi",
               "--firefox-id", "postguard@ctreg14.org") == 0
    info = json.loads(capsys.readouterr().out)
    assert info["extension_id"] == EXT_ID and info["os"] == "linux"
    assert info["ca"]["name_constrained"] is True
    assert info["ca"]["chrome_permitted_dns_names"] == ["facebook.com", "x.com"]
    assert info["managed_settings"] == ["backendUrl"]
    assert {f["install"] for f in info["files"]} >= {"/etc/opt/chrome/policies/managed/postguard.json"}
    p = json.loads((out / "etc/opt/chrome/policies/managed/postguard.json").read_text())
    assert p["CACertificatesWithConstraints"][0]["constraints"] == {"permitted_dns_names": ["facebook.com", "x.com"]}
    assert "token" not in p["3rdparty"]["extensions"][EXT_ID]
    assert "PROXY 127.0.0.1:9090" in (out / "etc/postguard/browser/postguard.pac").read_text()
    ff = json.loads((out / "etc/firefox/policies/policies.json").read_text())["policies"]
    assert ff["ExtensionSettings"] == {"postguard@ctreg14.org": {
        "installation_mode": "force_installed", "install_url": "https://it.ctreg14.org/postguard/postguard.xpi"}}
    assert ff["3rdparty"] == {"Extensions": {"postguard@ctreg14.org": {"backendUrl": "http://127.0.0.1:8731"}}}


# ---- macOS ----

def test_mac_profile_and_plists(state, tmp_path):
    der = make_ca(state / "mitmproxy" / "mitmproxy-ca-cert.pem", constrained=["facebook.com"])
    out = tmp_path / "out"
    assert run(state, out, "--os", "mac", "--mode", "monitor", *token_args(state)) == 0
    prof = plistlib.loads((out / "postguard.mobileconfig").read_bytes())
    assert prof["PayloadType"] == "Configuration" and prof["PayloadScope"] == "System"
    by_type = {p["PayloadType"]: p for p in prof["PayloadContent"]}
    assert set(by_type) == {"com.google.Chrome", f"com.google.Chrome.extensions.{EXT_ID}", "com.microsoft.Edge",
                            f"com.microsoft.Edge.extensions.{EXT_ID}", "org.mozilla.firefox",
                            "com.apple.security.root"}
    assert len({p["PayloadUUID"] for p in prof["PayloadContent"]}) == 6
    chrome = by_type["com.google.Chrome"]
    assert chrome["ExtensionInstallForcelist"] == [f"{EXT_ID};{UPDATE}"]
    pac = "file:///Library/Application%20Support/postguard/postguard.pac"
    assert chrome["ProxySettings"]["ProxyPacUrl"] == pac_data_url(out / "Library/Application Support/postguard/postguard.pac")
    assert chrome["QuicAllowed"] is False and chrome["IncognitoModeAvailability"] == 1
    assert by_type["com.microsoft.Edge"]["InPrivateModeAvailability"] == 1
    assert by_type[f"com.google.Chrome.extensions.{EXT_ID}"]["mode"] == "monitor"
    assert by_type[f"com.google.Chrome.extensions.{EXT_ID}"]["token"] == TOKEN
    assert by_type["com.apple.security.root"]["PayloadContent"] == der
    ff = by_type["org.mozilla.firefox"]
    assert ff["EnterprisePoliciesEnabled"] is True and ff["DisablePrivateBrowsing"] is True
    assert ff["Proxy"]["AutoConfigURL"] == pac
    for dom in ("com.google.Chrome", f"com.microsoft.Edge.extensions.{EXT_ID}"):
        plist = plistlib.loads((out / "plist" / f"{dom}.plist").read_bytes())
        assert {k: v for k, v in by_type[dom].items() if not k.startswith("Payload")} == plist
    assert (out / "Library/Application Support/postguard/postguard.pac").is_file()
    assert json.loads((out / "Applications/Firefox.app/Contents/Resources/distribution/policies.json").read_text())[
        "policies"]["Certificates"] == {"Install": ["/Library/Application Support/postguard/postguard-ca.pem"]}


def test_mac_profile_leaves_an_unconstrained_ca_out_of_os_trust(state, tmp_path):
    out = tmp_path / "out"
    assert run(state, out, "--os", "mac") == 0
    prof = plistlib.loads((out / "postguard.mobileconfig").read_bytes())
    assert "com.apple.security.root" not in {p["PayloadType"] for p in prof["PayloadContent"]}


# ---- Windows ----

def parse_reg(raw: bytes) -> dict[str, dict[str, Any]]:
    """A .reg file (UTF-16 LE with BOM, as regedit writes it) -> key -> value name -> value."""
    assert raw[:2] == b"\xff\xfe"
    text = raw.decode("utf-16")
    lines = text.lstrip("\ufeff").split("\r\n")
    assert lines[0] == "Windows Registry Editor Version 5.00"
    keys: dict[str, dict[str, Any]] = {}
    cur: dict[str, Any] = {}
    for line in lines[1:]:
        if not line or line.startswith(";"):
            continue
        if line.startswith("["):
            cur = keys.setdefault(line[1:-1], {})
            continue
        m = re.fullmatch(r'"((?:[^"\\]|\\.)*)"=(?:"((?:[^"\\]|\\.)*)"|dword:([0-9a-f]{8}))', line)
        assert m, line
        unesc = lambda s: re.sub(r"\\(.)", r"\1", s)  # noqa: E731
        cur[unesc(m[1])] = unesc(m[2]) if m[2] is not None else int(m[3], 16)
    return keys


def test_windows_reg(state, tmp_path):
    out = tmp_path / "out"
    assert run(state, out, "--os", "windows", "--backend-listen", "127.0.0.1:8799", *token_args(state)) == 0
    keys = parse_reg((out / "postguard-browsers.reg").read_bytes())
    chrome = keys[r"HKEY_LOCAL_MACHINE\SOFTWARE\Policies\Google\Chrome"]
    pac = "file:///C:/ProgramData/postguard/postguard.pac"
    assert json.loads(chrome["ProxySettings"]) == {
        "ProxyMode": "pac_script", "ProxyPacMandatory": True,
        "ProxyPacUrl": pac_data_url(out / "C/ProgramData/postguard/postguard.pac")}
    assert chrome["QuicAllowed"] == 0 and chrome["IncognitoModeAvailability"] == 1
    [ca] = json.loads(chrome["CACertificatesWithConstraints"])
    der = (out / "C/ProgramData/postguard/postguard-ca.cer").read_bytes()
    assert base64.b64decode(ca["certificate"]) == der
    edge = keys[r"HKEY_LOCAL_MACHINE\SOFTWARE\Policies\Microsoft\Edge"]
    assert edge["InPrivateModeAvailability"] == 1 and edge["QuicAllowed"] == 0
    for vendor in (r"Google\Chrome", r"Microsoft\Edge"):
        base = rf"HKEY_LOCAL_MACHINE\SOFTWARE\Policies\{vendor}"
        assert keys[base + r"\ExtensionInstallForcelist"] == {"1": f"{EXT_ID};{UPDATE}"}
        assert keys[base + rf"\3rdparty\extensions\{EXT_ID}\policy"] == {
            "backendUrl": "http://127.0.0.1:8799", "token": TOKEN}
    ff = json.loads((out / "C/Program Files/Mozilla Firefox/distribution/policies.json").read_text())["policies"]
    assert ff["Proxy"]["AutoConfigURL"] == pac
    assert ff["Certificates"]["Install"] == ["C:/ProgramData/postguard/postguard-ca.pem"]
    x509.load_der_x509_certificate(der)


# ---- bad input ----

@pytest.mark.parametrize(("setup", "args", "error"), [
    (None, ["--update-url", "http://it.ctreg14.org/u.xml"], "--update-url: an https://"),
    (None, ["--update-url", "https://it.ctreg14.org/u.xml;x"], "--update-url: an https://"),
    ("no-token", ["--token-file", "STATE/backend.token"], "no backend token there"),
    ("short-token", ["--token-file", "STATE/backend.token"], "shorter than 16"),
    (None, ["--server-url", "https://postguard.ctreg14.org"], "go together"),
    ("group-key", ["--server-url", "ftp://x", "--group-key-file", "STATE/group.key"], "--server-url: an http"),
    ("no-ca", [], "mitmproxy-ca-cert.pem: No such file"),
    (None, ["--pac-url", "file:///etc/postguard/browser/postguard.pac"], "--pac-url: an http or https URL"),
    ("key-in-ca", [], "holds a private key"),
    ("not-ca", [], "not a CA certificate"),
    ("garbage-ca", [], "not an X.509 certificate"),
    (None, ["--pac-url", "javascript:alert(1)"], "--pac-url"),
    (None, ["--firefox-xpi", "https://it.ctreg14.org/p.xpi"], "--firefox-id"),
    (None, ["--extension-id", "ABC"], "32 letters"),
])
def test_bad_input_is_a_clear_error(state, tmp_path, capsys, setup, args, error):
    ca = state / "mitmproxy" / "mitmproxy-ca-cert.pem"
    if setup == "no-token":
        (state / "backend.token").unlink()
    elif setup == "short-token":
        (state / "backend.token").write_text("short")
    elif setup == "no-ca":
        ca.unlink()
    elif setup == "key-in-ca":
        make_ca(ca, constrained=None, with_key=True)
    elif setup == "not-ca":
        make_ca(ca, constrained=None, ca=False)
    elif setup == "garbage-ca":
        ca.write_bytes(b"-----BEGIN CERTIFICATE-----\nnope\n-----END CERTIFICATE-----\n")
    elif setup == "group-key":
        (state / "group.key").write_text("gk-0123456789abcdef0123\n")
    args = [a.replace("STATE", str(state)) for a in args]
    out = tmp_path / "out"
    argv = ["agent", "browser-policy", "--state", str(state), "--out", str(out), "--os", "linux"]
    if "--update-url" not in args:
        argv += ["--update-url", UPDATE]
    assert main(argv + args) == 2
    err = capsys.readouterr().err
    assert error in err and TOKEN not in err
    assert not out.exists()  # nothing half-written


def test_no_ca_and_no_token_are_choices(state, tmp_path):
    out = tmp_path / "out"
    (state / "backend.token").unlink()
    assert run(state, out, "--os", "linux", "--no-ca", "--pac-url", "http://127.0.0.1:8731/pac") == 0
    p = json.loads((out / "etc/opt/chrome/policies/managed/postguard.json").read_text())
    assert "CACertificatesWithConstraints" not in p
    assert p["ProxySettings"]["ProxyPacUrl"] == "http://127.0.0.1:8731/pac"
    assert not (out / "etc/postguard/browser/postguard-ca.pem").exists()


# ---- real Chromium ----

CHILD = r'''
import json, os, sys, tempfile
from playwright.sync_api import sync_playwright

ext, rules = sys.argv[1], sys.argv[2]
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
        "--disable-component-update", "--no-first-run", "--disable-sync", f"--host-resolver-rules={rules}"]
result = {"visits": {}}

def export(ctx):
    pg = ctx.new_page()
    pg.goto("chrome://policy")
    with pg.expect_download() as d:
        pg.locator("#export-policies").dispatch_event("click")
    data = json.loads(open(d.value.path()).read())
    pg.close()
    return data

with sync_playwright() as p:
    env = dict(os.environ, HOME=tempfile.mkdtemp())
    # 1. the policy as generated: every Chrome policy applied; the PAC routes social hosts only;
    #    the CA is trusted for the social hosts only
    ctx = p.chromium.launch_persistent_context(tempfile.mkdtemp(), executable_path="/usr/bin/chromium",
                                               headless=True, env=env, accept_downloads=True, args=ARGS)
    result["full"] = export(ctx)
    pg = ctx.new_page()
    for url in ("https://www.facebook.com/", "https://mail.google.com/", "http://plain.example/"):
        try:
            r = pg.goto(url, timeout=8000)
            result["visits"][url] = {"status": r.status if r else None, "body": pg.inner_text("body")}
        except Exception as e:
            result["visits"][url] = {"error": str(e).splitlines()[0]}
    ctx.close()
    # 2. without the force-install (its CRX is not served here), the unpacked extension (same id,
    #    pinned by its key) gets its managed settings
    pol = "/etc/chromium/policies/managed/postguard.json"
    data = json.load(open(pol))
    del data["ExtensionInstallForcelist"]
    json.dump(data, open(pol, "w"))
    ctx = p.chromium.launch_persistent_context(tempfile.mkdtemp(), executable_path="/usr/bin/chromium",
        headless=True, env=env, accept_downloads=True,
        args=ARGS + [f"--disable-extensions-except={ext}", f"--load-extension={ext}"])
    sw = next((w for w in ctx.service_workers if w.url.startswith("chrome-extension://")), None) \
        or ctx.wait_for_event("serviceworker", timeout=15000)
    result["sw"] = sw.url
    result["managed"] = sw.evaluate("() => chrome.storage.managed.get(null)")
    result["unpacked"] = export(ctx)
    ctx.close()
print("RESULT " + json.dumps(result))
'''


class Recorder:
    """A TCP server that records the first line a client sends (a proxy's CONNECT, a GET) and closes."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.lines: list[str] = []
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            with c:
                c.settimeout(2)
                try:
                    data = c.recv(4096)
                except OSError:
                    continue
                self.lines.append(data.split(b"\r\n", 1)[0].decode("latin-1"))
                c.sendall(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")

    def close(self) -> None:
        self.sock.close()


def leaf_context(ca_file: Path, host: str, tmp: Path) -> ssl.SSLContext:
    """A server TLS context for `host`, its certificate signed by the test CA at `ca_file`."""
    ca, ca_key = CA_KEYS[ca_file]
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)]))
            .issuer_name(ca.subject).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=30))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(host)]), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .sign(ca_key, hashes.SHA256()))
    pem = tmp / f"{host}.pem"
    pem.write_bytes(cert.public_bytes(serialization.Encoding.PEM) + key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(pem)
    return ctx


class TLSSite:
    """An HTTPS server answering every request with 200 "site ok" (one thread per connection)."""

    def __init__(self, ctx: ssl.SSLContext) -> None:
        self.ctx = ctx
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._one, args=(c,), daemon=True).start()

    def _one(self, c: socket.socket) -> None:
        try:
            c.settimeout(5)
            with self.ctx.wrap_socket(c, server_side=True) as t:
                t.recv(65536)
                t.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 7\r\n"
                          b"Connection: close\r\n\r\nsite ok")
        except OSError:
            c.close()

    def close(self) -> None:
        self.sock.close()


class Tunnel:
    """A CONNECT proxy standing in for the agent's: records each CONNECT line and tunnels
    www.facebook.com:443 to a local TLS site; anything else gets 502."""

    def __init__(self, fb_port: int) -> None:
        self.fb_port = fb_port
        self.lines: list[str] = []
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._one, args=(c,), daemon=True).start()

    def _one(self, c: socket.socket) -> None:
        with c:
            c.settimeout(10)
            head = b""
            while b"\r\n\r\n" not in head:
                chunk = c.recv(4096)
                if not chunk:
                    return
                head += chunk
            line = head.split(b"\r\n", 1)[0].decode("latin-1")
            self.lines.append(line)
            if line != "CONNECT www.facebook.com:443 HTTP/1.1":
                c.sendall(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n")
                return
            up = socket.create_connection(("127.0.0.1", self.fb_port))
            c.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
            threading.Thread(target=self._pipe, args=(up, c), daemon=True).start()
            self._pipe(c, up)

    @staticmethod
    def _pipe(a: socket.socket, b: socket.socket) -> None:
        try:
            while data := a.recv(65536):
                b.sendall(data)
        except OSError:
            pass
        finally:
            for x in (a, b):
                try:
                    x.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def close(self) -> None:
        self.sock.close()


def namespace_problem() -> str | None:
    """Why a private mount namespace cannot be made here (None when it can)."""
    if not shutil.which("unshare"):
        return "unshare is not installed"
    r = subprocess.run(["unshare", "-m", "--propagation", "private", "mount", "-t", "tmpfs", "none", "/mnt"],
                       capture_output=True, text=True, timeout=10)
    return None if r.returncode == 0 else f"no private mount namespace here: {r.stderr.strip()}"


@pytest.mark.browser
def test_chromium_applies_the_generated_policy(state, tmp_path):
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI"):
            raise RuntimeError(f"{CHROMIUM} is required in CI")
        pytest.skip(f"{CHROMIUM} is not installed")
    if problem := namespace_problem():
        if os.environ.get("CI"):
            raise RuntimeError(problem)
        pytest.skip(problem)
    ca_file = state / "mitmproxy" / "mitmproxy-ca-cert.pem"  # no name constraints of its own
    fb = TLSSite(leaf_context(ca_file, "www.facebook.com", tmp_path))
    google = TLSSite(leaf_context(ca_file, "mail.google.com", tmp_path))
    proxy, plain = Tunnel(fb.port), Recorder()
    try:
        out = tmp_path / "out"
        assert run(state, out, "--os", "linux", "--proxy-listen", f"127.0.0.1:{proxy.port}", *token_args(state)) == 0
        # A copy of /etc/chromium with the generated policy, mounted over it in a private namespace only.
        etc = tmp_path / "etc-chromium"
        shutil.copytree("/etc/chromium", etc) if Path("/etc/chromium").is_dir() else etc.mkdir()
        (etc / "policies" / "managed").mkdir(parents=True)
        shutil.copy(out / "etc/chromium/policies/managed/postguard.json", etc / "policies" / "managed")
        child = tmp_path / "child.py"
        child.write_text(CHILD)
        rules = f"MAP plain.example 127.0.0.1:{plain.port}, MAP mail.google.com 127.0.0.1:{google.port}"
        script = (f"mkdir -p /etc/chromium 2>/dev/null; mount --bind '{etc}' /etc/chromium && "
                  f"exec '{sys.executable}' '{child}' '{EXT}' '{rules}'")
        r = subprocess.run(["unshare", "-m", "--propagation", "private", "sh", "-c", script],
                           capture_output=True, text=True, timeout=60)
        lines = [ln for ln in r.stdout.splitlines() if ln.startswith("RESULT ")]
        assert r.returncode == 0 and lines, r.stderr[-3000:]
        res = json.loads(lines[0][len("RESULT "):])
    finally:
        for srv in (fb, google, proxy, plain):
            srv.close()
    assert not Path("/etc/chromium/policies/managed/postguard.json").exists()  # the real folder untouched
    want = json.loads((out / "etc/chromium/policies/managed/postguard.json").read_text())
    chrome = res["full"]["policyGroups"]["chrome"]["policies"]
    for name in ("ExtensionInstallForcelist", "ProxySettings", "QuicAllowed", "IncognitoModeAvailability",
                 "CACertificatesWithConstraints"):
        assert chrome[name]["value"] == want[name], name
        assert chrome[name]["source"] == "platform" and chrome[name]["level"] == "mandatory"
        assert not chrome[name].get("error") and not chrome[name].get("warnings"), chrome[name]
    visits = res["visits"]
    # The PAC sent the social host to the proxy, and the CA from policy was trusted for it ...
    assert "CONNECT www.facebook.com:443 HTTP/1.1" in proxy.lines, (proxy.lines, visits)
    assert visits["https://www.facebook.com/"] == {"status": 200, "body": "site ok"}
    # ... while another host went direct, and the same CA's certificate for it was refused.
    assert not any("google" in ln or "plain" in ln for ln in proxy.lines), proxy.lines
    assert "ERR_CERT" in visits["https://mail.google.com/"].get("error", ""), visits
    assert any(ln.startswith("GET / HTTP/1.1") for ln in plain.lines), plain.lines
    # The extension's managed settings reach chrome.storage.managed and chrome://policy.
    assert res["sw"].startswith(f"chrome-extension://{EXT_ID}/")
    assert res["managed"] == want["3rdparty"]["extensions"][EXT_ID]
    ext_pol = res["unpacked"]["policyGroups"]["extensions"][EXT_ID]["policies"]
    assert {k: v["value"] for k, v in ext_pol.items()} == {"backendUrl": "http://127.0.0.1:8731", "token": TOKEN}
    assert not any(v.get("error") for v in ext_pol.values()), ext_pol
