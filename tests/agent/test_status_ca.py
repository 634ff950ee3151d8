"""`postguard agent status` shows the proxy's device CA (agent/ca.py): whether it is there, its
SHA-256 fingerprint (as openssl prints it), basic and name constraints, expiry, the key file's mode,
and, on Linux, whether the browser policies installed on the computer trust this very CA; what is
wrong with it is an alarm (exit 1). Device ids are fictional."""

from __future__ import annotations

import datetime
import json
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes

from agent import ca
from agent.policy_dir import PolicyDir
from agent.runner import lock
from agent.state import Device, StateDir, write_status
from agent.status import collect, render
from checker import DEFAULT_POLICY_DIR
from postguard.cli import main
from store.event import iso

DEVICE = "pc-library-2-1f0c9a7e"  # fictional
UPDATE = "https://it.region14.example/postguard/updates.xml"


@pytest.fixture
def state(tmp_path: Path) -> StateDir:
    """An enrolled state folder running the shipped policy, with a CA for that policy's domains."""
    s = StateDir(tmp_path / "agent")
    s.ensure()
    s.save_device(Device(server="https://postguard.region14.example", device_id=DEVICE, hostname="pc-library-2",
                         enrolled_at="2026-12-02T14:23:50Z"))
    PolicyDir(s.policy).seed(DEFAULT_POLICY_DIR)
    ca.ensure_ca(s, ca.domains_for(None), device_id=DEVICE, new_key=True)
    return s


def openssl(*args: str) -> str:
    return subprocess.run(["openssl", *args], capture_output=True, text=True, check=True).stdout


def test_status_shows_the_ca_as_openssl_sees_it(state, tmp_path):
    pem = ca.confdir_for(state) / "mitmproxy-ca-cert.pem"
    s = collect(state, system_root=tmp_path / "no-browsers")
    c = s["ca"]
    assert c["installed"] and c["ours"] and c["problems"] == [] and c["device"] == DEVICE
    assert s["alarms"] == ["the agent is not running"]  # nothing about the CA
    assert c["name_constraints"] == {"critical": True, "permitted": list(ca.domains_for(None)),
                                     "excluded": ["0.0.0.0/0", "::/0"]}
    assert c["basic_constraints"] == {"ca": True, "path_length": 0, "critical": True}
    assert c["key_file"]["mode"] == "0600" and 728 <= c["days_left"] <= 730

    # What openssl reads from the certificate file is what status says.
    finger = openssl("x509", "-in", str(pem), "-noout", "-fingerprint", "-sha256").strip().partition("=")[2]
    end = openssl("x509", "-in", str(pem), "-noout", "-enddate").strip().partition("=")[2]
    assert ca.fingerprint_text(c["fingerprint"]) == finger
    assert datetime.datetime.strptime(end, "%b %d %H:%M:%S %Y %Z").strftime("%Y-%m-%dT%H:%M:%SZ") == c["not_after"]
    subject = openssl("x509", "-in", str(pem), "-noout", "-subject", "-nameopt", "RFC2253").strip()
    assert subject == f"subject={c['subject']}"

    text = render(s)
    assert f"device CA   postguard device CA - {DEVICE}\n" in text
    assert f"SHA-256 {finger}" in text and f"valid until {c['not_after'][:10]}" in text
    names = ca.domains_for(None)
    assert f"name constraints (critical): {len(names)} DNS name(s) permitted: {names[0]}," in text.replace("\n", " ")
    assert "  excluded: 0.0.0.0/0, ::/0\n" in text

    # The command itself, as IT runs it.
    r = subprocess.run([sys.executable, "-m", "postguard", "agent", "status", "--state", str(state.root), "--json"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 1 and json.loads(r.stdout)["ca"]["fingerprint"] == c["fingerprint"]


def test_what_is_wrong_with_the_ca_is_an_alarm(state, tmp_path):
    confdir = ca.confdir_for(state)
    ca.ensure_ca(state, ["facebook.com", "x.com"], device_id=DEVICE)  # not the domains of the policy in force
    (confdir / "mitmproxy-ca.pem").chmod(0o644)
    s = collect(state, system_root=None)
    assert any("permits other domains than the policy in force" in a for a in s["alarms"])
    assert any("mitmproxy-ca.pem (the CA key) is readable by others" in a and "0644" in a for a in s["alarms"])

    soon = datetime.datetime.now(datetime.UTC) - ca.VALIDITY + datetime.timedelta(days=10)
    ca.ensure_ca(state, ca.domains_for(None), device_id=DEVICE, now=soon)  # re-issued long ago: 10 days left
    s = collect(state, system_root=None)
    assert [a for a in s["alarms"] if "CA" in a] == [
        f"the proxy's CA expires on {s['ca']['not_after'][:10]}: the agent re-issues it at its next start "
        "(then deploy the browser policy again)"]

    from mitmproxy.certs import CertStore

    for p in confdir.iterdir():
        p.unlink()
    CertStore.create_store(confdir, "mitmproxy", 2048)  # mitmproxy's own: ten years, any name
    s = collect(state, system_root=None)
    assert s["ca"]["installed"] and not s["ca"]["ours"] and s["ca"]["name_constraints"] is None
    assert any("is not name constrained: its key can sign for any site" in a for a in s["alarms"])
    assert "NO NAME CONSTRAINTS" in render(s)

    for p in confdir.iterdir():
        p.unlink()
    s = collect(state, system_root=None)
    assert not s["ca"]["installed"] and f"device CA   none in {confdir}" in render(s)
    assert any("no device CA in" in a for a in s["alarms"])


def test_an_agent_running_without_a_proxy_raises_no_ca_alarm(state):
    for p in ca.confdir_for(state).iterdir():
        p.unlink()
    held = lock(state)
    try:
        write_status(state, {"running": True, "updated_at": iso(None),
                             "components": {}})
        s = collect(state, system_root=None)
    finally:
        held.close()
    assert s["running"] and not s["ca"]["used"] and s["ca"]["problems"]
    assert s["alarms"] == [] and "(not used: the agent runs no proxy)" in render(s)


def test_the_installed_browser_policies_are_checked_against_this_ca(state, tmp_path, capsys):
    root = tmp_path / "root"
    assert main(["agent", "browser-policy", "--state", str(state.root), "--out", str(root), "--os", "linux",
                 "--update-url", UPDATE]) == 0
    capsys.readouterr()
    s = collect(state, system_root=root)
    assert [(b["browser"], b["trusts"]) for b in s["ca"]["browsers"]] == [
        ("chrome", "this CA"), ("chromium", "this CA"), ("firefox", "this CA")]
    assert s["ca"]["problems"] == []

    ca.ensure_ca(state, ca.domains_for(None), device_id=DEVICE, new_key=True)  # e.g. `agent enroll --force`
    s = collect(state, system_root=root)
    assert [(b["browser"], b["trusts"]) for b in s["ca"]["browsers"]] == [
        ("chrome", "another CA"), ("chromium", "another CA"), ("firefox", "another CA")]
    assert sum("run `postguard agent browser-policy` again" in a for a in s["alarms"]) == 3
    cert = x509.load_pem_x509_certificate((ca.confdir_for(state) / "mitmproxy-ca-cert.pem").read_bytes())
    assert s["ca"]["fingerprint"] == cert.fingerprint(hashes.SHA256()).hex()
    assert f"chromium: {root}/etc/chromium/policies/managed/postguard.json trusts another CA" in render(s)
