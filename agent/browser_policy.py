"""Browser policies generated from the installed extension and the agent's settings.

`build(BrowserSettings)` gives Chrome's, Chromium's and Edge's managed policy (force-install the
extension, its managed settings, the PAC URL, QUIC off, incognito/InPrivate off, the CA with name
constraints), Firefox's `policies.json`, and the support files they point at (the PAC file, the CA
certificate), laid out per OS: Linux JSON files, a macOS configuration profile (and one plist per
preference domain), a Windows .reg file. A file that goes to a path has that path under the output
folder ("C:/x" as "C/x"); the profile, plists and .reg file that an MDM or the registry takes sit at
its top.
"""

from __future__ import annotations

import base64
import hashlib
import json
import plistlib
import re
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

from cryptography import x509
from cryptography.hazmat.primitives import serialization

OSES = ("linux", "mac", "windows")
EXTENSION_ID = re.compile(r"^[a-p]{32}$")
POLICY_NAME = "postguard.json"

# Where each OS keeps postguard's own browser files (the PAC file and the CA certificate).
SUPPORT_DIR = {
    "linux": "/etc/postguard/browser",
    "mac": "/Library/Application Support/postguard",
    "windows": "C:/ProgramData/postguard",
}
LINUX_MANAGED = {  # browser -> its managed policy folder
    "chrome": "/etc/opt/chrome/policies/managed",
    "chromium": "/etc/chromium/policies/managed",
    "edge": "/etc/opt/edge/policies/managed",
}
FIREFOX_POLICIES = {
    "linux": "/etc/firefox/policies/policies.json",
    "mac": "/Applications/Firefox.app/Contents/Resources/distribution/policies.json",
    "windows": "C:/Program Files/Mozilla Firefox/distribution/policies.json",
}
MAC_DOMAIN = {"chrome": "com.google.Chrome", "edge": "com.microsoft.Edge"}
WIN_KEY = {"chrome": r"HKEY_LOCAL_MACHINE\SOFTWARE\Policies\Google\Chrome",
           "edge": r"HKEY_LOCAL_MACHINE\SOFTWARE\Policies\Microsoft\Edge"}
PROFILE_ID = "org.postguard.browser-policy"  # the macOS profile's identifier (stable: a re-install replaces it)


class BrowserPolicyError(Exception):
    """A setting the policies cannot be made from; the message says which and what to do."""


def extension_id_from_key(key_b64: str) -> str:
    """Chrome's extension id for a manifest `key`: SHA-256 of the DER public key, first 32 hex
    digits written with a-p for 0-f."""
    try:
        der = base64.b64decode(key_b64, validate=True)
        serialization.load_der_public_key(der)
    except ValueError as e:
        raise BrowserPolicyError(f"manifest key: not a base64 DER public key ({e})") from None
    return "".join(chr(ord("a") + int(c, 16)) for c in hashlib.sha256(der).hexdigest()[:32])


@dataclass(frozen=True)
class Extension:
    """The installed extension, as its manifest and managed schema describe it."""

    path: Path
    chrome_id: str
    version: str
    schema: dict[str, Any]
    gecko_id: str | None  # browser_specific_settings.gecko.id, when the manifest has one


def read_extension(path: Path, *, extension_id: str | None = None) -> Extension:
    """Read `manifest.json` and its managed schema; the id comes from the manifest's `key`
    (or `extension_id` when a district re-keyed the CRX it deploys)."""
    try:
        manifest = json.loads((path / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise BrowserPolicyError(f"{path / 'manifest.json'}: cannot read it ({e})") from None
    if extension_id is not None:
        if not EXTENSION_ID.match(extension_id):
            raise BrowserPolicyError(f"--extension-id: 32 letters a-p expected (got {extension_id!r})")
        cid = extension_id
    elif isinstance(manifest.get("key"), str):
        cid = extension_id_from_key(manifest["key"])
    else:
        raise BrowserPolicyError(
            f"{path / 'manifest.json'} has no \"key\", so its id depends on how it is installed: put the "
            "public key of the key the district packs the CRX with in \"key\" (docs/extension.md), "
            "or pass --extension-id")
    schema_name = (manifest.get("storage") or {}).get("managed_schema")
    if not isinstance(schema_name, str):
        raise BrowserPolicyError(f"{path / 'manifest.json'}: no storage.managed_schema, so the browser "
                                 "would not hand managed settings to the extension")
    try:
        schema = json.loads((path / schema_name).read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise BrowserPolicyError(f"{path / schema_name}: cannot read it ({e})") from None
    gecko = ((manifest.get("browser_specific_settings") or {}).get("gecko") or {}).get("id")
    return Extension(path=path, chrome_id=cid, version=str(manifest.get("version", "")), schema=schema,
                     gecko_id=gecko if isinstance(gecko, str) else None)


_TYPES: dict[str, tuple[type, ...]] = {"string": (str,), "boolean": (bool,), "integer": (int,),
                                        "number": (int, float), "array": (list,), "object": (dict,)}


def schema_errors(value: Any, schema: dict[str, Any], where: str = "") -> list[str]:
    """Where `value` breaks the managed schema (the subset Chrome's schemas use: type, enum,
    properties, items). Chrome drops a value that breaks it, so none may be written."""
    kind = schema.get("type")
    ok = _TYPES.get(kind or "", (object,))
    if not isinstance(value, ok) or (kind in ("integer", "number") and isinstance(value, bool)):
        return [f"{where or 'settings'}: must be {kind}"]
    errs: list[str] = []
    if "enum" in schema and value not in schema["enum"]:
        errs.append(f"{where}: must be one of {', '.join(map(str, schema['enum']))}")
    if isinstance(value, dict):
        props = schema.get("properties", {})
        for k, v in value.items():
            if k not in props:
                errs.append(f"{where + '.' if where else ''}{k}: not in the extension's managed schema")
            else:
                errs += schema_errors(v, props[k], f"{where + '.' if where else ''}{k}")
    if isinstance(value, list):
        for i, v in enumerate(value):
            errs += schema_errors(v, schema.get("items", {}), f"{where}[{i}]")
    return errs


@dataclass(frozen=True)
class CA:
    """The proxy's CA certificate and the names it may sign for."""

    der: bytes
    subject: str
    constrained: list[str] | None  # its X.509 permitted DNS names, None when it has no name constraints

    @property
    def pem(self) -> str:
        """The certificate as PEM."""
        b = base64.encodebytes(self.der).decode().replace("\n", "")
        lines = "\n".join(b[i:i + 64] for i in range(0, len(b), 64))
        return f"-----BEGIN CERTIFICATE-----\n{lines}\n-----END CERTIFICATE-----\n"


def read_ca(path: Path) -> CA:
    """The CA certificate (PEM or DER), never its key."""
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise BrowserPolicyError(f"{path}: {e.strerror}") from None
    try:
        cert = x509.load_pem_x509_certificate(raw) if b"-----BEGIN" in raw else x509.load_der_x509_certificate(raw)
    except ValueError as e:
        raise BrowserPolicyError(f"{path}: not an X.509 certificate ({e})") from None
    if b"PRIVATE KEY" in raw:
        raise BrowserPolicyError(f"{path} holds a private key: give the certificate alone "
                                 "(mitmproxy-ca-cert.pem, not mitmproxy-ca.pem)")
    try:
        bc = cert.extensions.get_extension_for_class(x509.BasicConstraints).value
    except x509.ExtensionNotFound:
        bc = None
    if bc is None or not bc.ca:
        raise BrowserPolicyError(f"{path}: not a CA certificate (basicConstraints CA:TRUE missing)")
    try:
        nc = cert.extensions.get_extension_for_class(x509.NameConstraints).value
        names = [n.value for n in (nc.permitted_subtrees or []) if isinstance(n, x509.DNSName)]
        constrained: list[str] | None = names or None
    except x509.ExtensionNotFound:
        constrained = None
    return CA(der=cert.public_bytes(serialization.Encoding.DER), subject=cert.subject.rfc4514_string(),
              constrained=constrained)


@dataclass(frozen=True)
class BrowserSettings:
    """Everything the policies are made from."""

    extension: Extension
    update_url: str                 # where the district serves the CRX's update manifest
    managed: dict[str, Any]         # the extension's managed settings (3rdparty)
    pac_text: str
    social_hosts: list[str]
    ca: CA | None
    pac_url: str | None = None      # a served PAC; None: a data: URL for Chromium, the PAC file for Firefox
    firefox_id: str | None = None
    firefox_xpi: str | None = None  # a signed XPI's URL; without it Firefox gets no ExtensionSettings
    notes: list[str] = field(default_factory=list)


def check_settings(s: BrowserSettings) -> None:
    """Refuse what a browser would drop or could not use."""
    u = urlsplit(s.update_url)
    if u.scheme != "https" or not u.hostname or any(c in s.update_url for c in "; \t\r\n"):
        raise BrowserPolicyError(f"--update-url: an https:// URL of the update manifest expected (got {s.update_url!r})")
    if errs := schema_errors(s.managed, s.extension.schema):
        raise BrowserPolicyError("managed settings: " + "; ".join(errs))
    if s.pac_url is not None and urlsplit(s.pac_url).scheme not in ("http", "https"):
        raise BrowserPolicyError(f"--pac-url: an http or https URL expected (got {s.pac_url!r}); "
                                 "without it the PAC goes into the policies themselves")
    if s.firefox_xpi is not None:
        if urlsplit(s.firefox_xpi).scheme != "https":
            raise BrowserPolicyError(f"--firefox-xpi: an https:// URL expected (got {s.firefox_xpi!r})")
        if not (s.firefox_id or s.extension.gecko_id):
            raise BrowserPolicyError("--firefox-xpi needs the add-on's id (--firefox-id; the manifest has no "
                                     "browser_specific_settings.gecko.id)")


def file_url(path: str) -> str:
    """A file: URL for an absolute path of the target OS ("C:/…" on Windows)."""
    p = path if path.startswith("/") else "/" + path
    return "file://" + quote(p, safe="/:")


def pac_url(s: BrowserSettings, os_name: str) -> str:
    """Firefox's PAC URL: the PAC file installed in SUPPORT_DIR (file: URLs work in Firefox)."""
    return s.pac_url or file_url(f"{SUPPORT_DIR[os_name]}/postguard.pac")


def chromium_pac_url(s: BrowserSettings) -> str:
    """Chrome's and Edge's PAC URL: the PAC itself as a data: URL, since Chromium does not read a
    PAC from a file: URL (net::ERR_MANDATORY_PROXY_CONFIGURATION_FAILED); nothing to install or fetch."""
    return s.pac_url or "data:application/x-ns-proxy-autoconfig;base64," + base64.b64encode(s.pac_text.encode()).decode()


def ca_names(s: BrowserSettings) -> list[str]:
    """The names Chrome lets the CA sign for: its own name constraints, else the social hosts."""
    assert s.ca is not None
    return list(s.ca.constrained or s.social_hosts)


def chromium_policy(s: BrowserSettings, os_name: str, browser: str) -> dict[str, Any]:
    """Chrome's (or Edge's) machine policy, without the extension's own settings."""
    ext = s.extension.chrome_id
    p: dict[str, Any] = {
        "ExtensionInstallForcelist": [f"{ext};{s.update_url}"],
        "ProxySettings": {"ProxyMode": "pac_script", "ProxyPacUrl": chromium_pac_url(s), "ProxyPacMandatory": True},
        "QuicAllowed": False,
    }
    # 1 = disabled: a private window would run without the extension (it is not allowed there).
    p["InPrivateModeAvailability" if browser == "edge" else "IncognitoModeAvailability"] = 1
    if s.ca is not None and browser != "edge":
        # Chrome 131+ (and Chromium) take a CA from policy; with constraints it signs for these names only.
        p["CACertificatesWithConstraints"] = [{
            "certificate": base64.b64encode(s.ca.der).decode(),
            "constraints": {"permitted_dns_names": ca_names(s)},
        }]
    return p


def linux_json(s: BrowserSettings, browser: str) -> dict[str, Any]:
    """One managed policy file: machine policy plus `3rdparty.extensions.<id>`."""
    return {**chromium_policy(s, "linux", browser),
            "3rdparty": {"extensions": {s.extension.chrome_id: dict(s.managed)}}}


def firefox_policy(s: BrowserSettings, os_name: str) -> dict[str, Any]:
    """Firefox's `policies.json`."""
    pol: dict[str, Any] = {
        "Proxy": {"Mode": "autoConfig", "AutoConfigURL": pac_url(s, os_name), "Locked": True},
        "DisablePrivateBrowsing": True,
        "Preferences": {"network.http.http3.enable": {"Value": False, "Status": "locked"}},
    }
    if s.ca is not None:
        pol["Certificates"] = {"Install": [f"{SUPPORT_DIR[os_name]}/postguard-ca.pem"]}
    fid = s.firefox_id or s.extension.gecko_id
    if s.firefox_xpi and fid:
        pol["ExtensionSettings"] = {fid: {"installation_mode": "force_installed", "install_url": s.firefox_xpi}}
        pol["3rdparty"] = {"Extensions": {fid: dict(s.managed)}}
    return {"policies": pol}


@dataclass(frozen=True)
class Output:
    """One generated file."""

    rel: str       # its path under the output folder
    content: bytes
    dest: str      # where it goes on the computer, or how it is deployed
    what: str


def _json(obj: Any) -> bytes:
    return (json.dumps(obj, indent=2, ensure_ascii=False) + "\n").encode()


def _root(dest: str) -> str:
    """A destination path as a path under the output folder ("C:/x" -> "C/x", "/etc/x" -> "etc/x")."""
    if dest[1:2] == ":":
        dest = dest[0] + dest[2:]
    return dest.lstrip("/")


def _support(s: BrowserSettings, os_name: str) -> list[Output]:
    d = SUPPORT_DIR[os_name]
    out = [Output(_root(f"{d}/postguard.pac"), s.pac_text.encode(), f"{d}/postguard.pac",
                  "PAC file: only social hosts go to the proxy")]
    if s.ca is not None:
        out.append(Output(_root(f"{d}/postguard-ca.pem"), s.ca.pem.encode(), f"{d}/postguard-ca.pem",
                          "the proxy's CA certificate (PEM; no key)"))
        if os_name == "windows":
            out.append(Output(_root(f"{d}/postguard-ca.cer"), s.ca.der, f"{d}/postguard-ca.cer",
                              "the same certificate (DER) for the Windows Trusted Root store (GPO / Intune)"))
    return out


def linux_files(s: BrowserSettings) -> list[Output]:
    """Managed JSON for Chrome, Chromium and Edge, Firefox's policies.json, the PAC file and CA."""
    out = [Output(_root(f"{d}/{POLICY_NAME}"), _json(linux_json(s, b)), f"{d}/{POLICY_NAME}",
                  f"{b} managed policy") for b, d in LINUX_MANAGED.items()]
    out.append(Output(_root(FIREFOX_POLICIES["linux"]), _json(firefox_policy(s, "linux")),
                      FIREFOX_POLICIES["linux"], "Firefox policies"))
    return out + _support(s, "linux")


def _payload(ptype: str, content: dict[str, Any], name: str) -> dict[str, Any]:
    ident = f"{PROFILE_ID}.{ptype}"
    return {"PayloadType": ptype, "PayloadVersion": 1, "PayloadIdentifier": ident,
            "PayloadUUID": str(uuid.uuid5(uuid.NAMESPACE_DNS, ident)).upper(), "PayloadDisplayName": name,
            **content}


def mac_domains(s: BrowserSettings) -> dict[str, dict[str, Any]]:
    """Preference domain -> its keys (what MDM writes to /Library/Managed Preferences)."""
    ext = s.extension.chrome_id
    doms: dict[str, dict[str, Any]] = {}
    for b, dom in MAC_DOMAIN.items():
        doms[dom] = chromium_policy(s, "mac", b)
        doms[f"{dom}.extensions.{ext}"] = dict(s.managed)  # the extension's chrome.storage.managed
    ff = firefox_policy(s, "mac")["policies"]
    doms["org.mozilla.firefox"] = {"EnterprisePoliciesEnabled": True, **ff}
    return doms


def mac_files(s: BrowserSettings) -> list[Output]:
    """A configuration profile with every domain (and the CA as a root payload when it is name
    constrained), one plist per domain for an MDM that uploads plists, policies.json, PAC, CA."""
    doms = mac_domains(s)
    payloads = [_payload(dom, keys, dom) for dom, keys in doms.items()]
    if s.ca is not None and s.ca.constrained:
        payloads.append(_payload("com.apple.security.root", {"PayloadContent": s.ca.der,
                                 "PayloadCertificateFileName": "postguard-ca.cer"}, "postguard proxy CA"))
    profile = {
        "PayloadType": "Configuration", "PayloadVersion": 1, "PayloadIdentifier": PROFILE_ID,
        "PayloadUUID": str(uuid.uuid5(uuid.NAMESPACE_DNS, PROFILE_ID)).upper(),
        "PayloadDisplayName": "postguard browser policy", "PayloadScope": "System",
        "PayloadDescription": "Force-installs the postguard extension and sends social sites through the checking proxy.",
        "PayloadRemovalDisallowed": True, "PayloadContent": payloads,
    }
    out = [Output("postguard.mobileconfig", plistlib.dumps(profile), "MDM (Intune, Jamf, ...): a device profile",
                  "configuration profile: Chrome, Edge, Firefox and the extension's settings")]
    for dom, keys in doms.items():
        out.append(Output(f"plist/{dom}.plist", plistlib.dumps(keys),
                          f"MDM custom settings for preference domain {dom}", f"{dom} preferences"))
    out.append(Output(_root(FIREFOX_POLICIES["mac"]), _json(firefox_policy(s, "mac")), FIREFOX_POLICIES["mac"],
                      "Firefox policies (without MDM)"))
    return out + _support(s, "mac")


def _reg_str(v: str) -> str:
    return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _reg_value(name: str, v: Any) -> str:
    if isinstance(v, bool):
        return f"{_reg_str(name)}=dword:{int(v):08x}"
    if isinstance(v, int):
        return f"{_reg_str(name)}=dword:{v & 0xFFFFFFFF:08x}"
    if isinstance(v, str):
        return f"{_reg_str(name)}={_reg_str(v)}"
    return f"{_reg_str(name)}={_reg_str(json.dumps(v, separators=(',', ':')))}"  # dict policies: JSON strings


def reg_text(s: BrowserSettings) -> str:
    """Chrome's and Edge's policy as a .reg file (what Group Policy / Intune's ADMX settings write)."""
    lines = ["Windows Registry Editor Version 5.00", "",
             "; Generated by `postguard agent browser-policy`: Chrome and Edge machine policy.", ""]
    for b, key in WIN_KEY.items():
        pol = chromium_policy(s, "windows", b)
        forcelist = pol.pop("ExtensionInstallForcelist")
        lines += [f"[{key}]"] + [_reg_value(k, v) for k, v in pol.items()] + [""]
        lines += [f"[{key}\\ExtensionInstallForcelist]"]
        lines += [_reg_value(str(i), v) for i, v in enumerate(forcelist, 1)] + [""]
        # the extension's chrome.storage.managed: one value per setting
        lines += [f"[{key}\\3rdparty\\extensions\\{s.extension.chrome_id}\\policy]"]
        lines += [_reg_value(k, v) for k, v in s.managed.items()] + [""]
    return "\r\n".join(lines)


def windows_files(s: BrowserSettings) -> list[Output]:
    """The .reg file, Firefox's policies.json, the PAC file and the CA (PEM and DER)."""
    reg = "\ufeff" + reg_text(s)  # regedit's own format: UTF-16 LE with a BOM
    return [Output("postguard-browsers.reg", reg.encode("utf-16-le"),
                   "HKLM via Group Policy Preferences (Registry), Intune, or `reg import`",
                   "Chrome and Edge policy and the extension's settings"),
            Output(_root(FIREFOX_POLICIES["windows"]), _json(firefox_policy(s, "windows")),
                   FIREFOX_POLICIES["windows"], "Firefox policies")] + _support(s, "windows")


def build(s: BrowserSettings, os_name: str) -> list[Output]:
    """Every file for one OS."""
    check_settings(s)
    if os_name not in OSES:
        raise BrowserPolicyError(f"--os: one of {', '.join(OSES)} (got {os_name!r})")
    return {"linux": linux_files, "mac": mac_files, "windows": windows_files}[os_name](s)


def write(outputs: list[Output], out: Path) -> list[Path]:
    """Write the files under `out` (world-readable: the browsers run as the staff member)."""
    written = []
    for o in outputs:
        p = out / o.rel
        p.parent.mkdir(parents=True, exist_ok=True)
        tmp = p.with_name(p.name + ".tmp")
        tmp.write_bytes(o.content)
        tmp.chmod(0o644)
        tmp.replace(p)
        written.append(p)
    return written


def read_token(path: Path) -> str:
    """The backend's install token (the browser hands it to the extension as a managed setting)."""
    try:
        token = path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        raise BrowserPolicyError(f"{path}: no backend token there (`postguard agent run` makes STATE/backend.token "
                                 "when it first starts the backend)") from None
    except (OSError, UnicodeDecodeError) as e:
        raise BrowserPolicyError(f"{path}: cannot read the backend token ({e})") from None
    if len(token) < 16:
        raise BrowserPolicyError(f"{path}: the backend token is shorter than 16 characters")
    return token


def read_group_key(path: Path) -> str:
    """An extension group key (`postguard extension-groups create` prints it once)."""
    try:
        key = path.read_text(encoding="utf-8").strip()
    except OSError as e:
        raise BrowserPolicyError(f"{path}: cannot read the group key ({e.strerror})") from None
    if len(key) < 16 or not key.isascii() or any(c.isspace() for c in key):
        raise BrowserPolicyError(f"{path}: not a group key (16 or more printable characters, no spaces)")
    return key


def managed_settings(*, backend_url: str, token: str | None, mode: str | None = None,
                     fail_mode: str | None = None, server_url: str | None = None,
                     group_key: str | None = None) -> dict[str, Any]:
    """The extension's managed settings (names as in its managed_schema.json)."""
    m: dict[str, Any] = {"backendUrl": backend_url}
    if token is not None:
        m["token"] = token
    if server_url is not None:
        if not re.fullmatch(r"https?://[^\s/?#]+(?:/[^\s?#]*)?", server_url):
            raise BrowserPolicyError(f"--server-url: an http(s) URL of the district server, not {server_url!r}")
        m["serverUrl"] = server_url.rstrip("/")
    if group_key is not None:
        m["groupKey"] = group_key
    if mode is not None:
        m["mode"] = mode
    if fail_mode is not None:
        m["failMode"] = fail_mode
    return m


def summary(s: BrowserSettings, os_name: str, outputs: list[Output], out: Path) -> dict[str, Any]:
    """What was written and from what (never the token)."""
    return {
        "os": os_name, "out": str(out), "extension_id": s.extension.chrome_id,
        "extension_version": s.extension.version, "update_url": s.update_url,
        "pac_url": {"chrome_edge": "data: URL (the PAC file's text)" if s.pac_url is None else s.pac_url,
                    "firefox": pac_url(s, os_name)},
        "managed_settings": sorted(s.managed), "ca": None if s.ca is None else {
            "subject": s.ca.subject, "name_constrained": s.ca.constrained is not None,
            "chrome_permitted_dns_names": ca_names(s)},
        "firefox_extension": bool(s.firefox_xpi), "notes": list(s.notes),
        "files": [{"path": o.rel, "install": o.dest, "what": o.what} for o in outputs],
    }


def default_extension_dir() -> Path:
    """The extension installed with postguard (extension/webext)."""
    import extension

    return Path(extension.__file__).resolve().parent / "webext"


def deployed_ca(der: bytes, root: Path = Path("/")) -> list[dict[str, str]]:
    """On Linux, the browser policy files installed in place (`browser-policy --out /`; `root` for
    a test) and whether each trusts the CA whose certificate is `der`: `trusts` is "this CA",
    "another CA", "no CA" or "unreadable". Files that are not there are left out (a browser not
    set up here, or one configured otherwise; a Firefox `policies.json` that names no postguard file);
    Edge takes no CA from its policy (it trusts the OS)."""
    out: list[dict[str, str]] = []
    for browser, folder in LINUX_MANAGED.items():
        p = root / _root(f"{folder}/{POLICY_NAME}")
        if browser == "edge" or not p.exists():
            continue
        try:
            pol = json.loads(p.read_text(encoding="utf-8"))
            certs = [base64.b64decode(c["certificate"]) for c in pol.get("CACertificatesWithConstraints", [])]
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            out.append({"browser": browser, "file": str(p), "trusts": "unreadable"})
            continue
        out.append({"browser": browser, "file": str(p),
                    "trusts": "this CA" if der in certs else "another CA" if certs else "no CA"})
    ff, ca_file = root / _root(FIREFOX_POLICIES["linux"]), f"{SUPPORT_DIR['linux']}/postguard-ca.pem"
    try:
        ours = SUPPORT_DIR["linux"] in ff.read_text(encoding="utf-8")  # written by browser-policy, not another tool
    except (OSError, UnicodeDecodeError):
        ours = False
    if ours:
        p = root / _root(ca_file)
        if not p.exists():
            trusts = "no CA"
        else:
            try:
                trusts = "this CA" if read_ca(p).der == der else "another CA"
            except BrowserPolicyError:
                trusts = "unreadable"
        out.append({"browser": "firefox", "file": str(p), "trusts": trusts})
    return out
