"""The device CA follows a policy swapped in while the agent runs (agent.runner.Agent._installed,
as the policy sync calls it): other social domains re-issue the CA and restart the real proxy
child; a policy with the same social domains changes neither. Device ids are fictional."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import ca_helpers
from cryptography import x509

from agent import ca
from agent.policy_dir import PolicyDir
from agent.runner import Agent, RunOptions
from agent.state import Device, StateDir
from checker import DEFAULT_POLICY_DIR

DEVICE = "pc-library-2-1f0c9a7e"  # fictional


def variant(tmp: Path, name: str, edit) -> Path:
    """A copy of the packaged policy with social.toml edited."""
    folder = tmp / name
    shutil.copytree(DEFAULT_POLICY_DIR, folder, ignore=shutil.ignore_patterns("__pycache__"))
    social = folder / "social.toml"
    social.write_text(edit(social.read_text()))
    return folder


def serial(state: StateDir) -> int:
    return x509.load_pem_x509_certificates((ca.confdir_for(state) / "mitmproxy-ca.pem").read_bytes())[0].serial_number


async def test_a_swapped_policy_reissues_the_ca_only_when_its_social_domains_change(tmp_path):
    state = StateDir(tmp_path / "agent")
    state.ensure()
    folder = PolicyDir(state.policy)
    folder.seed(DEFAULT_POLICY_DIR)  # as run_agent does before the agent starts
    dev = Device(server="https://postguard.region14.example", device_id=DEVICE, hostname="pc-library-2",
                 enrolled_at="2026-12-03T07:00:00Z")
    port = ca_helpers.free_port()
    agent = Agent(RunOptions(state=state, proxy_listen=("127.0.0.1", port), backend_listen=None), dev, None,
                  "digest", "test")
    [proxy] = agent.children
    proxy.start()
    try:
        ca_helpers.wait_listening(port, proxy.proc, "the agent's proxy", timeout=60)
        first_pid, first_serial = proxy.proc.pid, serial(state)

        same = folder.seed(variant(tmp_path, "same", lambda t: t + "\n# a comment: same hosts, another digest\n"))
        await agent._installed(same)
        assert serial(state) == first_serial and proxy.alive() and proxy.proc.pid == first_pid

        fewer = folder.seed(variant(tmp_path, "fewer", lambda t: t.replace('"tiktok.com",', "")))
        await agent._installed(fewer)
        cert = x509.load_pem_x509_certificates((ca.confdir_for(state) / "mitmproxy-ca.pem").read_bytes())[0]
        assert cert.serial_number != first_serial and "tiktok.com" not in ca.permitted(cert)
        assert not proxy.alive()  # stopped, so that it loads the new CA
        end = time.monotonic() + 30
        while not proxy.alive() and time.monotonic() < end:  # what the agent's _tend does
            proxy.tend()
            time.sleep(0.1)
        assert proxy.proc.pid != first_pid
        ca_helpers.wait_listening(port, proxy.proc, "the restarted proxy", timeout=60)
    finally:
        proxy.stop()
        agent.queue.close()
