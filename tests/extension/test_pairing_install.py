"""`postguard agent install` registers the native messaging host that pairs the extension with
the agent: one host manifest per browser (this extension's id only), the launcher, and the pairing
token the agent's backend is started with; a re-install keeps the token, uninstall removes them.
Written under a fake root (--root), as the install tests do."""

from __future__ import annotations

import json
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from agent.install import Options, install, uninstall
from extension.backend import EXTENSION_ID

HOSTS = ["etc/opt/chrome/native-messaging-hosts", "etc/chromium/native-messaging-hosts",
         "etc/opt/edge/native-messaging-hosts"]
LAUNCHER = "usr/local/lib/postguard/native-host"
TOKEN = "etc/postguard/pairing.token"


@pytest.fixture
def root(tmp_path: Path) -> Path:
    if shutil.which("useradd") is None:
        pytest.skip("useradd is not installed")
    r = tmp_path / "root"
    (r / "etc").mkdir(parents=True)
    (r / "etc/passwd").write_text("root:x:0:0:root:/root:/bin/bash\n")
    (r / "etc/group").write_text("root:x:0:\n")
    return r


def mode(p: Path) -> int:
    return stat.S_IMODE(p.stat().st_mode)


def test_install_registers_the_host_for_each_browser(root: Path) -> None:
    report = install(Options(os="linux", root=root))
    assert any("native messaging host org.postguard.agent registered" in x for x in report.lines)
    for folder in HOSTS:
        m = root / folder / "org.postguard.agent.json"
        assert json.loads(m.read_text()) == {
            "name": "org.postguard.agent", "type": "stdio", "path": "/" + LAUNCHER,
            "description": "postguard: pairs the browser extension with the agent on this computer",
            "allowed_origins": [f"chrome-extension://{EXTENSION_ID}/"]}
        assert mode(m) == 0o644
    launcher = (root / LAUNCHER).read_text()
    assert mode(root / LAUNCHER) == 0o755 and launcher.startswith("#!/bin/sh\n")
    assert f"exec {sys.executable} -m extension.native_host --backend http://127.0.0.1:8731 " \
           f"--token-file /{TOKEN} \"$@\"" in launcher
    token = (root / TOKEN).read_text().strip()
    assert len(token) >= 32 and mode(root / TOKEN) == 0o644
    unit = (root / "etc/systemd/system/postguard-agent.service").read_text()
    assert f"--token-file /{TOKEN}" in unit  # the backend is started with the same token

    install(Options(os="linux", root=root))  # again: browsers stay paired
    assert (root / TOKEN).read_text().strip() == token

    uninstall(Options(os="linux", root=root))
    for p in [*(root / f / "org.postguard.agent.json" for f in HOSTS), root / LAUNCHER, root / TOKEN]:
        assert not p.exists(), p


def test_dry_run_names_the_host_files_and_writes_nothing(root: Path) -> None:
    report = install(Options(os="linux", root=root, dry_run=True))
    said = "\n".join(report.lines)
    for path in [*(f"/{f}/org.postguard.agent.json" for f in HOSTS), "/" + LAUNCHER, "/" + TOKEN]:
        assert f"would write {path}" in said
        assert not (root / path.lstrip("/")).exists()


def test_the_written_launcher_runs_the_host(root: Path, tmp_path: Path) -> None:
    """The launcher's command, run as the browser would run it (with the caller's origin), answers
    in the native messaging framing; with nothing listening it says the agent is not running."""
    from extension.native_host import encode_message

    install(Options(os="linux", root=root))
    script = (root / LAUNCHER).read_text().replace(f"/{TOKEN}", str(root / TOKEN)).replace(
        "http://127.0.0.1:8731", "http://127.0.0.1:9")  # port 9: nothing listens
    runnable = tmp_path / "native-host"
    runnable.write_text(script)
    runnable.chmod(0o755)
    out = subprocess.run([str(runnable), f"chrome-extension://{EXTENSION_ID}/"], timeout=60, capture_output=True,
                         input=encode_message({"id": 7, "path": "/v1/policy", "body": {}}))
    assert out.returncode == 0, out.stderr
    size = int.from_bytes(out.stdout[:4], sys.byteorder)
    answer = json.loads(out.stdout[4:4 + size])
    assert answer["id"] == 7 and answer["status"] == 0 and answer["problem"] == "agent-down"
