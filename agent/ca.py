"""The proxy's CA on a device: its own, made at enrolment, able to sign only for the social domains.

The proxy decrypts the policy's social hosts and signs a certificate for each on the fly with this
CA, which the browsers trust. mitmproxy would make its own CA (unconstrained, ten years, named
"mitmproxy"), whose key could sign for any site; this one is EC P-256 with

- BasicConstraints CA, path length 0 (critical): it signs leaves only, never another CA;
- KeyUsage keyCertSign and cRLSign (critical), ExtendedKeyUsage serverAuth;
- NameConstraints (critical) permitting only DNS names under the social domains (a permitted
  `facebook.com` covers `facebook.com` and every sub-domain, RFC 5280 4.2.1.10) and excluding every
  IPv4 and IPv6 address, so a leaf for `mail.google.com` or an IP address fails verification;
- subject CN "postguard device CA - DEVICE" ("postguard CA DEVICE" where that would pass X.509's
  64 characters), O postguard, OU the device id; valid two years.

It is written into the proxy's confdir under the names mitmproxy 11 loads (`mitmproxy-ca.pem`:
key and certificate) and publishes (`mitmproxy-ca-cert.pem`, `.cer`, `.p12`: the certificate
alone), plus `mitmproxy-dhparam.pem`, so mitmproxy never makes its own; every file 0600.

`ensure_ca(state, domains)` issues the CA when there is none (or another CA is there, e.g. one
mitmproxy made), and re-issues it when the domain list differs from the certificate's, when it
expires within 30 days, or when the files disagree; otherwise it changes nothing. A re-issue keeps
the key (a browser still trusting the previous certificate keeps verifying the domains both
permit until the new one is deployed); `new_key=True` (enrolment) makes a fresh one. Enrolment,
`agent run` (before the proxy starts) and the policy sync (after a swap; the runner then restarts
the proxy, which loads its CA at start) call it; the browsers' trust follows with `postguard
agent browser-policy`.
"""

from __future__ import annotations

import datetime
import fcntl
import ipaddress
import logging
import os
import re
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from agent.state import StateDir, StateError, write_atomic

BASENAME = "mitmproxy"              # mitmproxy's default `--set confdir` file prefix
KEY_AND_CERT = f"{BASENAME}-ca.pem"  # what mitmproxy loads: the key, then the certificate
CERT_FILES = (f"{BASENAME}-ca-cert.pem", f"{BASENAME}-ca-cert.cer")
CERT_P12 = f"{BASENAME}-ca-cert.p12"
DHPARAM = f"{BASENAME}-dhparam.pem"
STALE = (f"{BASENAME}-ca.p12",)      # mitmproxy's own copy of its key (PKCS#12): removed, never written
VALIDITY = datetime.timedelta(days=730)
RENEW_BEFORE = datetime.timedelta(days=30)
ORG = "postguard"
log = logging.getLogger("postguard.agent")
_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")


class CAError(StateError):
    """The CA cannot be made or written; the message says why."""


@dataclass(frozen=True)
class CAStatus:
    """What `ensure_ca` found or did."""

    confdir: Path
    subject: str
    domains: tuple[str, ...]
    not_after: str
    fingerprint: str   # SHA-256 of the certificate, hex
    reissued: bool
    reason: str        # why it was (re)issued, or "current"


def confdir_for(state: StateDir) -> Path:
    """The proxy's confdir inside a state folder (`agent run --confdir` may name another)."""
    return state.root / "mitmproxy"


def normalize_domains(domains: Any) -> tuple[str, ...]:
    """The permitted names: lower-case, no trailing dot, each a valid DNS name, sorted, and none
    under another (that one already covers it). CAError for a name a CA cannot carry."""
    if isinstance(domains, str) or not domains:
        raise CAError("the CA needs at least one social domain (social.toml hosts)")
    names = set()
    for raw in domains:
        d = str(raw).strip().lower().rstrip(".")
        if d.startswith("*."):
            d = d[2:]
        labels = d.split(".")
        if (len(d) > 253 or len(labels) < 2 or not all(_LABEL.match(x) for x in labels)
                or labels[-1].isdigit()):  # an IP address, not a name
            raise CAError(f"social domain {str(raw)!r}: not a DNS name a CA can be constrained to")
        names.add(d)
    return tuple(sorted(d for d in names if not any(d.endswith("." + p) for p in names)))


def policy_domains(policy: Any) -> tuple[str, ...]:
    """What the proxy decrypts for a loaded policy: social.toml's `hosts` (each with its
    sub-domains) and the `[api_hosts]` (exact hosts whose API paths are social)."""
    from proxy_addon.extract.hosts import api_hosts

    return normalize_domains([*policy.data.social.get("hosts", []), *api_hosts(policy)])


def domains_for(policy_dir: str | Path | None) -> tuple[str, ...]:
    """`policy_domains` of a policy folder (None: the packaged policy)."""
    from checker import PolicyError, load_policy

    try:
        return policy_domains(load_policy(policy_dir, checks=False))
    except PolicyError as e:
        raise CAError(f"policy: {e}") from None


def common_name(device_id: str) -> str:
    """The CA's CN: it says postguard and the device, within X.509's 64 characters."""
    form = f"postguard device CA - {device_id}"
    return form if len(form) <= 64 else f"postguard CA {device_id}"[:64]


def make_ca(key: ec.EllipticCurvePrivateKey, device_id: str, domains: tuple[str, ...],
            now: datetime.datetime | None = None) -> x509.Certificate:
    """A self-signed device CA for `domains` (already normalized) with `key`."""
    now = now or datetime.datetime.now(datetime.UTC)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name(device_id)),
                      x509.NameAttribute(NameOID.ORGANIZATION_NAME, ORG),
                      x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, device_id[:64] or "device")])
    pub = key.public_key()
    no_ip = [x509.IPAddress(ipaddress.ip_network("0.0.0.0/0")), x509.IPAddress(ipaddress.ip_network("::/0"))]
    usage = x509.KeyUsage(digital_signature=False, content_commitment=False, key_encipherment=False,
                          data_encipherment=False, key_agreement=False, key_cert_sign=True, crl_sign=True,
                          encipher_only=False, decipher_only=False)
    b = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(pub)
         .serial_number(x509.random_serial_number())
         .not_valid_before(now - datetime.timedelta(hours=1)).not_valid_after(now + VALIDITY)
         .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
         .add_extension(usage, critical=True)
         .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
         .add_extension(x509.NameConstraints(permitted_subtrees=[x509.DNSName(d) for d in domains],
                                             excluded_subtrees=no_ip), critical=True)
         .add_extension(x509.SubjectKeyIdentifier.from_public_key(pub), critical=False))
    return b.sign(key, hashes.SHA256())


def permitted(cert: x509.Certificate) -> tuple[str, ...] | None:
    """A certificate's permitted DNS names (sorted), or None without name constraints."""
    try:
        nc = cert.extensions.get_extension_for_class(x509.NameConstraints).value
    except x509.ExtensionNotFound:
        return None
    return tuple(sorted(n.value for n in nc.permitted_subtrees or () if isinstance(n, x509.DNSName)))


def _device_of(cert: x509.Certificate) -> str | None:
    ous = cert.subject.get_attributes_for_oid(NameOID.ORGANIZATIONAL_UNIT_NAME)
    return str(ous[0].value) if ous else None


def _keeps_key(found: tuple[Any, x509.Certificate] | None, device_id: str) -> bool:
    """Whether a re-issue may keep the key: ours, EC, matching its certificate, this device's."""
    if found is None:
        return False
    key, cert = found
    return (_is_ours(cert) and isinstance(key, ec.EllipticCurvePrivateKey) and key.public_key() == cert.public_key()
            and _device_of(cert) == device_id[:64])


def _is_ours(cert: x509.Certificate) -> bool:
    orgs = cert.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)
    return bool(orgs) and orgs[0].value == ORG and permitted(cert) is not None


def load(confdir: Path) -> tuple[Any, x509.Certificate] | None:
    """The key and certificate in `mitmproxy-ca.pem`, or None when missing or damaged."""
    try:
        raw = (confdir / KEY_AND_CERT).read_bytes()
        key = serialization.load_pem_private_key(raw, password=None)
        cert = x509.load_pem_x509_certificates(raw)[0]
    except (OSError, ValueError, TypeError, IndexError):
        return None
    return key, cert


def _why_reissue(found: tuple[Any, x509.Certificate] | None, confdir: Path, device_id: str,
                 domains: tuple[str, ...], now: datetime.datetime) -> str | None:
    if found is None:
        return "no CA yet" if not (confdir / KEY_AND_CERT).exists() else "the CA file is damaged"
    key, cert = found
    if not _is_ours(cert):
        return f"replacing a CA postguard did not make ({cert.subject.rfc4514_string()})"
    if not isinstance(key, ec.EllipticCurvePrivateKey) or key.public_key() != cert.public_key():
        return "the key does not match the certificate"
    if permitted(cert) != domains:
        return "the social domains changed"
    if _device_of(cert) != device_id[:64]:
        return "the CA is for another device id"
    if cert.not_valid_after_utc - now < RENEW_BEFORE:
        return f"it expires {cert.not_valid_after_utc:%Y-%m-%d}"
    pem = cert.public_bytes(serialization.Encoding.PEM)
    for name in CERT_FILES:
        try:
            if (confdir / name).read_bytes() != pem:
                return f"{name} differs from the CA"
        except OSError:
            return f"{name} is missing"
    return None if (confdir / CERT_P12).exists() and (confdir / DHPARAM).exists() else "a file of the CA is missing"


def _owner(confdir: Path) -> tuple[int, int] | None:
    """As root on an installed state folder: its account, so the service can still read the files."""
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        return None
    st = confdir.stat()
    return (st.st_uid, st.st_gid) if st.st_uid != 0 else None


def write(confdir: Path, key: ec.EllipticCurvePrivateKey, cert: x509.Certificate,
          owner: tuple[int, int] | None = None) -> None:
    """The confdir files, all owner-only as the rest of the state folder (root reads the certificate
    for the browser policy): the certificate ones first, the key file (what mitmproxy loads) last."""
    from mitmproxy.certs import DEFAULT_DHPARAM

    pem = cert.public_bytes(serialization.Encoding.PEM)
    p12 = pkcs12.serialize_key_and_certificates(name=BASENAME.encode(), key=None, cert=cert, cas=None,
                                                encryption_algorithm=serialization.NoEncryption())
    for name in CERT_FILES:
        write_atomic(confdir / name, pem, 0o600, owner)
    write_atomic(confdir / CERT_P12, p12, 0o600, owner)
    write_atomic(confdir / DHPARAM, DEFAULT_DHPARAM, 0o600, owner)
    keypem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                               serialization.NoEncryption())
    write_atomic(confdir / KEY_AND_CERT, keypem + pem, 0o600, owner)
    for name in STALE:
        (confdir / name).unlink(missing_ok=True)


def ensure_ca(state: StateDir, domains: Any, *, device_id: str | None = None, confdir: Path | None = None,
              new_key: bool = False, now: datetime.datetime | None = None) -> CAStatus:
    """Make sure the confdir (default STATE/mitmproxy) holds this device's CA for exactly `domains`
    (see the module's doc); `device_id` defaults to the enrolment's. CAError when it cannot."""
    wanted = normalize_domains(domains)
    device = device_id or state.load_device().device_id
    confdir = confdir or confdir_for(state)
    now = now or datetime.datetime.now(datetime.UTC)
    try:
        confdir.mkdir(mode=0o700, parents=True, exist_ok=True)
        owner = _owner(confdir)
        with os.fdopen(os.open(confdir / ".ca.lock", os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600), "r+b") as lock:
            if owner:
                os.fchown(lock.fileno(), *owner)
            fcntl.flock(lock, fcntl.LOCK_EX)
            found = load(confdir)
            reason = "a new key (enrolment)" if new_key else _why_reissue(found, confdir, device, wanted, now)
            if reason is None:
                assert found is not None
                return _status(confdir, found[1], False, "current")
            keep = not new_key and _keeps_key(found, device)
            key = found[0] if keep and found else ec.generate_private_key(ec.SECP256R1())
            cert = make_ca(key, device, wanted, now)
            write(confdir, key, cert, owner)
            return _status(confdir, cert, True, reason)
    except OSError as e:
        raise CAError(f"{e.filename or confdir}: cannot write the proxy's CA: {e.strerror}") from None


def _status(confdir: Path, cert: x509.Certificate, reissued: bool, reason: str) -> CAStatus:
    return CAStatus(confdir=confdir, subject=cert.subject.rfc4514_string(), domains=permitted(cert) or (),
                    not_after=cert.not_valid_after_utc.strftime("%Y-%m-%dT%H:%M:%SZ"),
                    fingerprint=cert.fingerprint(hashes.SHA256()).hex(), reissued=reissued, reason=reason)


def enrolment_ca(state: StateDir, device_id: str) -> CAStatus:
    """At enrolment: a new CA with a new key, for the packaged policy's social domains (`agent run`
    re-issues it for the policy it runs with when that one's differ)."""
    try:
        return ensure_ca(state, domains_for(None), device_id=device_id, new_key=True)
    except CAError as e:
        raise CAError(f"enrolled as {device_id}, but the proxy's CA could not be made ({e}); "
                      "`postguard agent run` makes it when it starts") from None


def run_ca(state: StateDir, policy_dir: str | None, device_id: str, confdir: Path | None = None) -> Path:
    """At `agent run`, before the proxy starts: the CA for the policy it runs with; its confdir."""
    return _for_policy(state, policy_dir, device_id, confdir).confdir


def renew_for_policy(state: StateDir, folder: str | Path, device_id: str, confdir: Path | None = None) -> bool:
    """After a new policy is swapped in while the agent runs: the CA for its social domains; True
    when it was re-issued (the proxy must then restart to load it)."""
    return _for_policy(state, folder, device_id, confdir).reissued


def _for_policy(state: StateDir, folder: str | Path | None, device_id: str, confdir: Path | None) -> CAStatus:
    st = ensure_ca(state, domains_for(folder), device_id=device_id, confdir=confdir)
    if st.reissued:
        log.warning("the proxy's CA was issued (%s): %s, %d domains, until %s; the browsers trust it once "
                    "`postguard agent browser-policy` has been run and deployed again", st.reason, st.subject,
                    len(st.domains), st.not_after)
    return st


def fingerprint_text(hex_digest: str) -> str:
    """A SHA-256 fingerprint as `openssl x509 -noout -fingerprint -sha256` prints it (AB:CD:…)."""
    return ":".join(hex_digest[i:i + 2] for i in range(0, len(hex_digest), 2)).upper()


def describe(confdir: Path, *, device_id: str | None = None, domains: tuple[str, ...] | None = None,
             now: datetime.datetime | None = None) -> dict[str, Any]:
    """What `agent status` shows of the proxy's CA in `confdir`: whether it is there, its subject,
    SHA-256 fingerprint, validity, basic and name constraints, the key file's mode, and in
    `problems` what is wrong with it in words (empty when nothing is). `domains`: the names the
    policy in force wants (None: not compared)."""
    now = now or datetime.datetime.now(datetime.UTC)
    path = confdir / KEY_AND_CERT
    out: dict[str, Any] = {"confdir": str(confdir), "installed": False, "problems": []}
    found = load(confdir)
    if found is None:
        out["problems"].append(f"no device CA in {confdir} (`agent run` makes it before it starts the proxy)"
                               if not path.exists() else f"{path} is damaged (`agent run` makes a new CA)")
        return out
    key, cert = found
    left = cert.not_valid_after_utc - now
    cns = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    out.update(installed=True, name=str(cns[0].value) if cns else cert.subject.rfc4514_string(),
               subject=cert.subject.rfc4514_string(), device=_device_of(cert), ours=_is_ours(cert),
               fingerprint=cert.fingerprint(hashes.SHA256()).hex(),
               not_before=cert.not_valid_before_utc.strftime("%Y-%m-%dT%H:%M:%SZ"),
               not_after=cert.not_valid_after_utc.strftime("%Y-%m-%dT%H:%M:%SZ"),
               days_left=left.days, key_matches=(isinstance(key, ec.EllipticCurvePrivateKey)
                                                 and key.public_key() == cert.public_key()))
    try:
        bc = cert.extensions.get_extension_for_class(x509.BasicConstraints)
        out["basic_constraints"] = {"ca": bc.value.ca, "path_length": bc.value.path_length, "critical": bc.critical}
    except x509.ExtensionNotFound:
        out["basic_constraints"] = None
    try:
        nc = cert.extensions.get_extension_for_class(x509.NameConstraints)
        out["name_constraints"] = {
            "critical": nc.critical,
            "permitted": sorted(str(n.value) for n in nc.value.permitted_subtrees or ()),
            "excluded": sorted(str(n.value) for n in nc.value.excluded_subtrees or ())}
    except x509.ExtensionNotFound:
        out["name_constraints"] = None
    st = path.stat()
    out["key_file"] = {"path": str(path), "mode": f"{stat.S_IMODE(st.st_mode):04o}", "owner": _account(st.st_uid)}
    out["problems"] = _problems(out, device_id, domains, cert, now)
    return out


def _account(uid: int) -> str:
    """An account's name (its number when the passwd database has none)."""
    try:
        import pwd

        return pwd.getpwuid(uid).pw_name
    except (ImportError, KeyError):
        return str(uid)


def _problems(d: dict[str, Any], device_id: str | None, domains: tuple[str, ...] | None,
              cert: x509.Certificate, now: datetime.datetime) -> list[str]:
    found: list[str] = []
    nc, bc = d["name_constraints"], d["basic_constraints"]
    if nc is None or not nc["permitted"]:
        found.append(f"the proxy's CA ({d['subject']}) is not name constrained: its key can sign for any site "
                     "(`agent run` replaces it at its next start)")
    elif not nc["critical"]:
        found.append("the proxy's CA's name constraints are not critical: a client may ignore them")
    if bc is None or not bc["ca"] or bc["path_length"] != 0 or not bc["critical"]:
        found.append("the proxy's CA is not limited to signing leaves (basicConstraints CA, path length 0, critical)")
    if not d["key_matches"]:
        found.append("the proxy's CA key does not match its certificate")
    if device_id is not None and d["device"] != device_id[:64]:
        found.append(f"the proxy's CA is for another device ({d['device']})")
    if cert.not_valid_after_utc <= now:
        found.append(f"the proxy's CA expired on {d['not_after'][:10]}: browsers refuse the social sites "
                     "(restart the agent to re-issue it, then deploy the browser policy again)")
    elif cert.not_valid_after_utc - now < RENEW_BEFORE:
        found.append(f"the proxy's CA expires on {d['not_after'][:10]}: the agent re-issues it at its next start "
                     "(then deploy the browser policy again)")
    if domains is not None and nc is not None and tuple(nc["permitted"]) != tuple(sorted(domains)):
        found.append("the proxy's CA permits other domains than the policy in force "
                     "(the agent re-issues it when it next starts or installs a policy)")
    if int(d["key_file"]["mode"], 8) & 0o077:
        found.append(f"{d['key_file']['path']} (the CA key) is readable by others than its owner "
                     f"(mode {d['key_file']['mode']}; it must be 0600)")
    return found
