"""The device CA (agent/ca.py): its extensions, its files as mitmproxy 11 loads them, re-issue on a
changed domain list, and proof that it can sign only for the social domains: `openssl verify` on
leaves mitmproxy itself makes, and curl through a real mitmdump running with it.
Device ids and host names of districts are fictional."""

from __future__ import annotations

import asyncio
import datetime
import ipaddress
import os
import shutil
import stat
import subprocess
from pathlib import Path

import ca_helpers
import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec

from agent import ca
from agent.enroll import enroll_device
from agent.runner import RunOptions, children
from agent.state import Device, StateDir
from agent.supervise import Child

ROOT = Path(__file__).resolve().parents[2]
DEVICE = "pc-library-2-1f0c9a7e"  # fictional
DOMAINS = ("facebook.com", "x.com", "www.googleapis.com")


@pytest.fixture
def state(tmp_path: Path) -> StateDir:
    s = StateDir(tmp_path / "agent")
    s.ensure()
    return s


def cert_of(path: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificates(path.read_bytes())[0]


def test_the_ca_can_only_sign_leaves_for_the_permitted_names(state):
    st = ca.ensure_ca(state, ["X.com", "facebook.com.", "m.facebook.com", "www.googleapis.com"], device_id=DEVICE)
    assert st.reissued and st.reason == "no CA yet"
    assert st.domains == ("facebook.com", "www.googleapis.com", "x.com")  # m.facebook.com: covered
    cert = cert_of(st.confdir / "mitmproxy-ca.pem")
    ext = cert.extensions
    bc = ext.get_extension_for_class(x509.BasicConstraints)
    assert bc.critical and bc.value.ca and bc.value.path_length == 0
    ku = ext.get_extension_for_class(x509.KeyUsage)
    assert ku.critical and ku.value.key_cert_sign and ku.value.crl_sign and not ku.value.digital_signature
    nc = ext.get_extension_for_class(x509.NameConstraints)
    assert nc.critical
    assert sorted(n.value for n in nc.value.permitted_subtrees) == list(st.domains)
    assert {str(n.value) for n in nc.value.excluded_subtrees} == {"0.0.0.0/0", "::/0"}
    cn = cert.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)[0].value
    assert cn == f"postguard device CA - {DEVICE}"
    assert cert.subject.get_attributes_for_oid(x509.NameOID.ORGANIZATION_NAME)[0].value == "postguard"
    assert isinstance(cert.public_key(), ec.EllipticCurvePublicKey) and cert.public_key().curve.name == "secp256r1"
    days = (cert.not_valid_after_utc - cert.not_valid_before_utc).days
    assert 729 <= days <= 731


def test_files_are_the_ones_mitmproxy_loads_and_the_key_is_owner_only(state):
    from mitmproxy.certs import CertStore

    st = ca.ensure_ca(state, DOMAINS, device_id=DEVICE)
    files = sorted(p.name for p in st.confdir.iterdir() if not p.name.startswith("."))
    assert files == ["mitmproxy-ca-cert.cer", "mitmproxy-ca-cert.p12", "mitmproxy-ca-cert.pem", "mitmproxy-ca.pem",
                     "mitmproxy-dhparam.pem"]
    assert {stat.S_IMODE(p.stat().st_mode) for p in st.confdir.iterdir()} == {0o600}
    assert stat.S_IMODE(st.confdir.stat().st_mode) == 0o700
    for name in ("mitmproxy-ca-cert.pem", "mitmproxy-ca-cert.cer", "mitmproxy-ca-cert.p12"):
        assert b"PRIVATE KEY" not in (st.confdir / name).read_bytes()
    before = {p.name: p.read_bytes() for p in st.confdir.iterdir()}
    store = CertStore.from_store(st.confdir, "mitmproxy", 2048)  # as mitmproxy's TlsConfig loads it
    assert store.default_ca.fingerprint().hex() == st.fingerprint
    assert {p.name: p.read_bytes() for p in st.confdir.iterdir()} == before  # mitmproxy made nothing of its own


def test_ensure_is_a_no_op_when_current_and_reissues_with_the_same_key_when_domains_change(state):
    first = ca.ensure_ca(state, DOMAINS, device_id=DEVICE)
    again = ca.ensure_ca(state, list(reversed(DOMAINS)), device_id=DEVICE)
    assert not again.reissued and again.reason == "current" and again.fingerprint == first.fingerprint
    key1 = cert_of(first.confdir / "mitmproxy-ca.pem").public_key()
    changed = ca.ensure_ca(state, (*DOMAINS, "tiktok.com"), device_id=DEVICE)
    assert changed.reissued and changed.reason == "the social domains changed" and "tiktok.com" in changed.domains
    assert cert_of(first.confdir / "mitmproxy-ca-cert.pem").public_key() == key1  # key kept
    fresh = ca.ensure_ca(state, DOMAINS, device_id=DEVICE, new_key=True)
    assert fresh.reissued and cert_of(first.confdir / "mitmproxy-ca.pem").public_key() != key1


def test_reissued_near_expiry_when_damaged_and_when_a_file_is_missing(state):
    first = ca.ensure_ca(state, DOMAINS, device_id=DEVICE)
    later = datetime.datetime.now(datetime.UTC) + datetime.timedelta(days=710)
    assert ca.ensure_ca(state, DOMAINS, device_id=DEVICE, now=later).reason.startswith("it expires ")
    (first.confdir / "mitmproxy-ca-cert.pem").unlink()
    assert ca.ensure_ca(state, DOMAINS, device_id=DEVICE).reason == "mitmproxy-ca-cert.pem is missing"
    (first.confdir / "mitmproxy-ca.pem").write_bytes(b"-----BEGIN garbage")
    assert ca.ensure_ca(state, DOMAINS, device_id=DEVICE).reason == "the CA file is damaged"
    assert ca.ensure_ca(state, DOMAINS, device_id=DEVICE).reason == "current"
    assert ca.ensure_ca(state, DOMAINS, device_id="pc-other-00000000").reason == "the CA is for another device id"


def test_an_unconstrained_mitmproxy_ca_is_replaced_with_its_key_copy(state):
    from mitmproxy.certs import CertStore

    confdir = ca.confdir_for(state)
    CertStore.create_store(confdir, "mitmproxy", 2048)  # what mitmproxy made before: 10 years, any name
    assert (confdir / "mitmproxy-ca.p12").exists()
    st = ca.ensure_ca(state, DOMAINS, device_id=DEVICE)
    assert st.reissued and st.reason.startswith("replacing a CA postguard did not make (O=mitmproxy,CN=mitmproxy)")
    assert not (confdir / "mitmproxy-ca.p12").exists()
    assert isinstance(cert_of(confdir / "mitmproxy-ca.pem").public_key(), ec.EllipticCurvePublicKey)


@pytest.mark.parametrize("bad", [[], "facebook.com", ["face book.com"], ["com"], ["-x.com"], ["10.0.0.1"]])
def test_a_domain_list_no_ca_can_carry_is_refused_and_nothing_written(state, bad):
    with pytest.raises(ca.CAError):
        ca.ensure_ca(state, bad, device_id=DEVICE)
    assert not ca.confdir_for(state).exists()


def test_the_cn_fits_64_characters_for_the_longest_device_id():
    long_id = "a" * 40 + "-1f0c9a7e"  # store.devices.device_id_for: 40 characters and 8 hex digits
    cert = ca.make_ca(ec.generate_private_key(ec.SECP256R1()), long_id, DOMAINS)
    cn = cert.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)[0].value
    assert len(cn) <= 64 and long_id in cn and cn.startswith("postguard")


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root: files written for another account")
def test_as_root_on_an_installed_state_folder_the_files_stay_the_service_accounts(state):
    confdir = ca.confdir_for(state)
    confdir.mkdir(mode=0o700)
    os.chown(confdir, 64123, 64123)  # a fictional service account's ids
    st = ca.ensure_ca(state, DOMAINS, device_id=DEVICE)
    owners = {(p.stat().st_uid, p.stat().st_gid) for p in st.confdir.iterdir()}
    assert owners == {(64123, 64123)}


def mitm_leaf(confdir: Path, host: str, tmp: Path) -> Path:
    """The leaf mitmproxy itself makes for `host` with the CA in `confdir` (what a browser gets)."""
    from mitmproxy.certs import CertStore

    store = CertStore.from_store(confdir, "mitmproxy", 2048)
    try:
        san: x509.GeneralName = x509.IPAddress(ipaddress.ip_address(host))  # as mitmproxy names an IP
    except ValueError:
        san = x509.DNSName(host)
    path = tmp / f"{host}.pem"
    path.write_bytes(store.get_cert(host, [san]).cert.to_pem())
    return path


def openssl_verify(ca_pem: Path, leaf: Path) -> subprocess.CompletedProcess:
    return subprocess.run(["openssl", "verify", "-x509_strict", "-purpose", "sslserver", "-CAfile", str(ca_pem),
                           str(leaf)], capture_output=True, text=True, timeout=30)


def test_openssl_accepts_a_social_leaf_and_refuses_any_other(state, tmp_path):
    st = ca.ensure_ca(state, ca.domains_for(None), device_id=DEVICE)
    ca_pem = st.confdir / "mitmproxy-ca-cert.pem"
    for host in ("www.facebook.com", "facebook.com", "upload.x.com", "www.googleapis.com"):
        r = openssl_verify(ca_pem, mitm_leaf(st.confdir, host, tmp_path))
        assert r.returncode == 0 and r.stdout.strip().endswith(": OK"), (host, r.stdout, r.stderr)
    for host, why in (("mail.google.com", "permitted subtree violation"),
                      ("facebook.com.evil.example", "permitted subtree violation"),
                      ("notfacebook.com", "permitted subtree violation"),
                      ("storage.googleapis.com", "permitted subtree violation")):
        r = openssl_verify(ca_pem, mitm_leaf(st.confdir, host, tmp_path))
        assert r.returncode != 0 and why in r.stdout + r.stderr, (host, r.stdout, r.stderr)
    r = openssl_verify(ca_pem, mitm_leaf(st.confdir, "127.0.0.1", tmp_path))  # an IP: excluded
    assert r.returncode != 0 and "subtree violation" in r.stdout + r.stderr, r.stderr


def curl(port: int, ca_pem: Path, url: str) -> subprocess.CompletedProcess:
    return subprocess.run(["curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "20",
                           "--proxy", f"http://127.0.0.1:{port}", "--cacert", str(ca_pem), "--noproxy", "",
                           url], capture_output=True, text=True, timeout=60)


@pytest.fixture
def proxied(state, tmp_path):
    """mitmdump 11 with the device CA, as the agent runs it (upstream_cert=false), in front of a
    site that answers for www.facebook.com and mail.google.com."""
    st = ca.ensure_ca(state, ca.domains_for(None), device_id=DEVICE)
    p = ca_helpers.start(tmp_path, st.confdir, ["www.facebook.com", "mail.google.com"], ("upstream_cert=false",))
    yield p, st.confdir / "mitmproxy-ca-cert.pem"
    p.stop()


def test_mitmproxy_serves_a_social_site_with_the_ca_and_a_client_refuses_another(proxied):
    p, ca_pem = proxied
    ok = curl(p.port, ca_pem, "https://www.facebook.com/")
    assert ok.returncode == 0 and ok.stdout == "200", (ok.stdout, ok.stderr, p.log.read_text()[-2000:])
    bad = curl(p.port, ca_pem, "https://mail.google.com/")
    assert bad.returncode == 60 and "permitted subtree violation" in bad.stderr, bad.stderr


def test_leaves_copying_the_sites_own_names_would_break_so_the_agent_turns_that_off(state, tmp_path):
    """A real site's certificate names more than the host (Facebook's: facebook.net, fbsbx.com):
    mitmproxy's default copies them into the leaf, which the constraints then refuse whole."""
    st = ca.ensure_ca(state, ca.domains_for(None), device_id=DEVICE)
    p = ca_helpers.start(tmp_path, st.confdir, ["www.facebook.com", "*.facebook.net", "*.fbsbx.com"])
    try:
        r = curl(p.port, st.confdir / "mitmproxy-ca-cert.pem", "https://www.facebook.com/")
    finally:
        p.stop()
    assert r.returncode == 60 and "permitted subtree violation" in r.stderr
    assert "upstream_cert=false" in proxy_child(state).argv


def proxy_child(state: StateDir, policy: Path | None = None) -> Child:
    """The proxy child from the runner, for an agent started with `--policy policy`."""
    from agent import runner

    if hasattr(runner, "PolicyDir"):  # with the policy sync the proxy runs STATE/policy/current, seeded at start
        from checker import DEFAULT_POLICY_DIR

        runner.PolicyDir(state.policy).seed(policy or DEFAULT_POLICY_DIR)
    dev = Device(server="https://postguard.region14.example", device_id=DEVICE, hostname="pc-library-2",
                 enrolled_at="2026-12-03T07:00:00Z")
    opts = RunOptions(state=state, backend_listen=None, policy_dir=str(policy) if policy else None)
    [proxy] = children(opts, dev)
    return proxy


def test_agent_run_gives_the_proxy_the_ca_of_the_policy_it_runs_with(state, tmp_path):
    argv = proxy_child(state).argv
    confdir = Path(argv[argv.index("--confdir") + 1])
    assert confdir == ca.confdir_for(state)
    first = cert_of(confdir / "mitmproxy-ca.pem")
    assert ca.permitted(first) == ca.domains_for(None) and "tiktok.com" in ca.permitted(first)
    policy = tmp_path / "policy"  # the district drops TikTok from its social hosts
    shutil.copytree(ROOT / "policies" / "region14", policy)
    social = policy / "social.toml"
    social.write_text(social.read_text().replace('"tiktok.com",', ""))
    proxy_child(state, policy)
    second = cert_of(confdir / "mitmproxy-ca.pem")
    assert "tiktok.com" not in ca.permitted(second) and second.public_key() == first.public_key()
    assert second.serial_number != first.serial_number


async def test_enrolment_makes_the_ca_for_the_new_device(server, tmp_path):
    s = StateDir(tmp_path / "enrolled")
    d = await asyncio.to_thread(enroll_device, s, server.url, server.codes()[0], version="test",
                                hostname="pc-library-2")
    cert = cert_of(ca.confdir_for(s) / "mitmproxy-ca.pem")
    assert d.device_id in cert.subject.rfc4514_string()
    assert ca.permitted(cert) == ca.domains_for(None)
    assert stat.S_IMODE((ca.confdir_for(s) / "mitmproxy-ca.pem").stat().st_mode) == 0o600


def test_browser_policy_takes_the_certificate_and_its_names_never_the_key(state):
    from agent.browser_policy import BrowserPolicyError, read_ca

    st = ca.ensure_ca(state, DOMAINS, device_id=DEVICE)
    cert = read_ca(st.confdir / "mitmproxy-ca-cert.pem")
    assert cert.constrained == list(st.domains) and DEVICE in cert.subject
    with pytest.raises(BrowserPolicyError, match="holds a private key"):
        read_ca(st.confdir / "mitmproxy-ca.pem")


def test_the_agents_own_proxy_serves_facebook_with_the_device_ca_and_leaves_mail_google_alone(state, tmp_path):
    """`postguard proxy` exactly as `agent run` starts it (children()): www.facebook.com is
    decrypted with a leaf of the device CA, which curl trusting only that CA accepts;
    mail.google.com is not decrypted at all (curl gets the site's own certificate)."""
    child = proxy_child(state)
    listen = child.argv.index("--listen") + 1

    def command(port: int) -> list[str]:  # the child's own command line, on a free port
        return [*child.argv[:listen], f"127.0.0.1:{port}", *child.argv[listen + 1:]]

    proxy = ca_helpers.start_proxy(tmp_path, ["www.facebook.com", "mail.google.com"], command, env=child.env)
    try:
        ca_pem = ca.confdir_for(state) / "mitmproxy-ca-cert.pem"
        ok = curl(proxy.port, ca_pem, "https://www.facebook.com/")
        other = curl(proxy.port, ca_pem, "https://mail.google.com/")
        direct = curl(proxy.port, tmp_path / "site-ca.pem", "https://mail.google.com/")
    finally:
        proxy.stop()
    assert ok.returncode == 0 and ok.stdout == "200", (ok.stderr, proxy.log.read_text()[-2000:])
    assert other.returncode == 60 and "unable to get local issuer" in other.stderr  # not the device CA's leaf
    assert direct.returncode == 0 and direct.stdout == "200"  # the site's own certificate, tunnelled
