"""`postguard agent install|uninstall` under a fake root (`--root`): the systemd unit (checked with
systemd-analyze), the account made with useradd in the fake root's passwd, the state folder handed
over 0700/0600, enabling, uninstall removing what install wrote (the queue kept unless --purge);
the launchd plist and the WinSW definition checked for shape. No system file is touched."""

from __future__ import annotations

import configparser
import os
import plistlib
import shutil
import stat
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path, PurePosixPath
from typing import Any

import pytest

from agent.install import (
    InstallError,
    Options,
    hand_over,
    install,
    lookup_account,
    read_manifest,
    systemd_unit,
    uninstall,
    unsafe_paths,
)
from postguard.cli import main

UNIT = "etc/systemd/system/postguard-agent.service"
LINK = "etc/systemd/system/multi-user.target.wants/postguard-agent.service"
STATE = "var/lib/postguard"


def need(tool: str) -> str:
    """A system tool's path; without it the test is skipped with the reason (a failure in CI)."""
    path = shutil.which(tool)
    if path is None:
        msg = f"{tool} is not installed (Debian package: {'passwd' if tool.startswith('user') else 'systemd'})"
        if os.environ.get("CI"):
            pytest.fail(msg)
        pytest.skip(msg)
    return path


@pytest.fixture(autouse=True)
def as_root() -> None:
    """Handing files to another account needs root (CI and this machine run as root)."""
    if os.geteuid() != 0:
        if os.environ.get("CI"):
            pytest.fail("tests/agent/test_agent_install.py needs root (chown to the service account)")
        pytest.skip("needs root: install hands the state folder to the service account with chown")


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """A fake root with the passwd and group files of a fresh system."""
    r = tmp_path / "root"
    (r / "etc").mkdir(parents=True)
    (r / "etc/passwd").write_text("root:x:0:0:root:/root:/bin/bash\nnobody:x:65534:65534::/:/usr/sbin/nologin\n"
                                  "pgmade:x:996:996:made by IT:/var/lib/postguard:/usr/sbin/nologin\n")
    (r / "etc/group").write_text("root:x:0:\nnogroup:x:65534:\npgmade:x:996:\n")
    return r


def enrolled_state(root: Path) -> Path:
    """A state folder as `agent enroll` and an earlier foreground run leave it, as root, loosely moded."""
    s = root / STATE
    (s / "mitmproxy").mkdir(parents=True)
    for name, mode in [("device.json", 0o644), ("device.key", 0o600), ("queue.sqlite", 0o644),
                       ("backend.token", 0o640), ("mitmproxy/mitmproxy-ca.pem", 0o644),
                       ("mitmproxy/mitmproxy-ca-cert.pem", 0o644)]:
        (s / name).write_text(f"{name}\n")
        os.chmod(s / name, mode)
    os.chmod(s / "mitmproxy", 0o755)
    return s


def mode(p: Path) -> int:
    return stat.S_IMODE(p.lstat().st_mode)


def test_linux_install_writes_a_hardened_root_owned_unit_and_hands_over_the_state(root: Path) -> None:
    need("useradd")
    host_passwd = Path("/etc/passwd").read_bytes()
    state = enrolled_state(root)
    report = install(Options(os="linux", root=root))

    # the account: made by useradd in the fake root only, a system account with no login
    assert Path("/etc/passwd").read_bytes() == host_passwd
    line = next(x for x in (root / "etc/passwd").read_text().splitlines() if x.startswith("postguard:"))
    _, _, uid, gid, _, home, shell = line.split(":")
    assert 0 < int(uid) < 1000 and home == "/var/lib/postguard" and shell == "/usr/sbin/nologin"
    assert any(x.startswith(f"postguard:x:{gid}:") or x.startswith(f"postguard:!:{gid}:")
               for x in (root / "etc/group").read_text().splitlines())
    assert any("account postguard created" in x for x in report.lines)

    # the state folder: the account's alone
    for p in [state, *state.rglob("*")]:
        assert p.lstat().st_uid == int(uid) and p.lstat().st_gid == int(gid), p
        assert mode(p) == (0o700 if p.is_dir() else 0o600), (p, oct(mode(p)))

    # the unit: root-owned, not writable by anyone else, enabled for multi-user.target
    unit = root / UNIT
    assert unit.stat().st_uid == 0 and mode(unit) == 0o644
    assert os.readlink(root / LINK) == "/" + UNIT
    cfg = configparser.ConfigParser(strict=True, interpolation=None)
    cfg.optionxform = str  # type: ignore[assignment,method-assign]
    cfg.read_string(unit.read_text())
    svc = cfg["Service"]
    assert svc["User"] == "postguard" and svc["Group"] == "postguard"
    assert svc["ExecStart"] == (f"{sys.executable} -m postguard agent run --state /var/lib/postguard "
                                "--token-file /etc/postguard/pairing.token")  # the browser pairing token
    for k, v in {"NoNewPrivileges": "yes", "ProtectSystem": "strict", "ReadWritePaths": "/var/lib/postguard",
                 "PrivateTmp": "yes", "Restart": "always", "UMask": "0077",
                 "CapabilityBoundingSet": ""}.items():
        assert svc[k] == v, k
    assert cfg["Install"]["WantedBy"] == "multi-user.target"
    if svc["ProtectHome"] == "tmpfs":  # this machine's interpreter lies under /root: only it is bound back in
        assert svc["BindReadOnlyPaths"] and all(p.startswith(("/root/", "/home/")) for p in
                                                svc["BindReadOnlyPaths"].split())
    else:
        assert svc["ProtectHome"] == "yes"
    manifest = read_manifest(Options(os="linux", root=root))
    assert manifest["created_user"] is True and manifest["files"][0] == "/" + UNIT  # then the native host's
    assert stat.S_IMODE((root / "etc/postguard/agent-install.json").stat().st_mode) == 0o644

    # the same folder installed again: nothing new made, nothing broken
    again = install(Options(os="linux", root=root))
    assert any("already there" in x for x in again.lines)
    assert sum(x.startswith("postguard:") for x in (root / "etc/passwd").read_text().splitlines()) == 1


def test_the_unit_passes_systemd_analyze_verify_and_is_enabled(root: Path) -> None:
    analyze = need("systemd-analyze")
    need("useradd")
    enrolled_state(root)
    install(Options(os="linux", root=root))
    unit = root / UNIT
    r = subprocess.run([analyze, "verify", str(unit)], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert "postguard-agent" not in r.stderr, r.stderr  # no warning about our unit (others' are not ours)
    sec = subprocess.run([analyze, "security", "--offline=yes", str(unit)], capture_output=True, text=True,
                         timeout=60)
    assert sec.returncode == 0, sec.stderr
    score = float(sec.stdout.rsplit("exposure level for postguard-agent.service:", 1)[1].split()[0])
    print(f"systemd-analyze security: exposure {score}")
    assert score <= 3.5  # "OK" or better; an unhardened unit scores 9.6 ("UNSAFE")
    systemctl = need("systemctl")
    r = subprocess.run([systemctl, f"--root={root}", "is-enabled", "postguard-agent.service"],
                       capture_output=True, text=True, timeout=60)
    assert r.stdout.strip() == "enabled", (r.stdout, r.stderr)


def test_an_unhardened_unit_scores_worse(root: Path) -> None:
    """The score is the hardening's, not systemd-analyze saying OK to anything."""
    analyze = need("systemd-analyze")
    bare = root / "bare.service"
    bare.write_text("[Service]\nExecStart=/bin/true\n")
    sec = subprocess.run([analyze, "security", "--offline=yes", str(bare)], capture_output=True, text=True,
                         timeout=60)
    assert float(sec.stdout.rsplit("bare.service:", 1)[1].split()[0]) > 9.0


def test_uninstall_removes_what_install_wrote_and_keeps_the_queue_unless_purge(root: Path) -> None:
    need("useradd")
    need("userdel")
    state = enrolled_state(root)
    install(Options(os="linux", root=root))
    report = uninstall(Options(os="linux", root=root))
    assert not (root / UNIT).exists() and not (root / LINK).is_symlink()
    assert not (root / "etc/postguard").exists()
    assert (state / "queue.sqlite").read_text() == "queue.sqlite\n"  # the events not yet uploaded stay
    assert (state / "device.key").exists()
    assert lookup_account(Options(root=root), "postguard") is not None  # it owns what was kept
    assert any("kept the state folder" in x for x in report.lines)
    with pytest.raises(InstallError, match="nothing to uninstall"):
        uninstall(Options(os="linux", root=root))

    install(Options(os="linux", root=root))
    uninstall(Options(os="linux", root=root, purge=True))
    assert not state.exists()
    assert lookup_account(Options(root=root), "postguard") is None
    assert (root / "var/lib").is_dir()  # only the state folder itself went
    assert not (root / UNIT).exists()


def test_purge_leaves_an_account_install_did_not_make(root: Path) -> None:
    enrolled_state(root)
    install(Options(os="linux", root=root, user="pgmade"))
    assert (root / STATE / "device.key").stat().st_uid == 996
    uninstall(Options(os="linux", root=root, purge=True))
    assert lookup_account(Options(root=root), "pgmade") is not None


def test_a_custom_state_folder_and_policy_go_into_the_unit(root: Path, tmp_path: Path) -> None:
    need("useradd")
    policy = root / "etc/postguard/policy"
    policy.mkdir(parents=True)
    (policy / "rules.toml").write_text("")
    install(Options(os="linux", root=root, state="/srv/pg-agent", user="pgagent",
                    policy="/etc/postguard/policy", python="/opt/post guard/bin/python"))
    unit = (root / UNIT).read_text()
    assert 'ExecStart="/opt/post guard/bin/python" -m postguard agent run --state /srv/pg-agent --policy ' \
        '/etc/postguard/policy' in unit
    assert "ReadWritePaths=/srv/pg-agent" in unit and "User=pgagent" in unit
    assert mode(root / "srv/pg-agent") == 0o700
    analyze = need("systemd-analyze")
    shown = subprocess.run([analyze, "verify", str(root / UNIT)], capture_output=True, text=True, timeout=60)
    # the one complaint is the interpreter that does not exist here: the quoted path was read whole
    assert "/opt/post guard/bin/python" in shown.stderr and "WorkingDirectory" not in shown.stderr, shown.stderr
    unit_ok = systemd_unit(Options(os="linux", state="/srv/pg-agent", user="pgagent", policy="/etc/pg policy"))
    (root / "ok.service").write_text(unit_ok)
    r = subprocess.run([analyze, "verify", str(root / "ok.service")], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and "ok.service" not in r.stderr, r.stderr


def test_a_policy_others_can_change_is_reported(root: Path) -> None:
    policy = root / "etc/postguard/policy"
    policy.mkdir(parents=True)
    (policy / "rules.toml").write_text("")
    os.chmod(policy / "rules.toml", 0o666)
    report = install(Options(os="linux", root=root, user="pgmade", policy="/etc/postguard/policy", dry_run=True))
    assert any("rules.toml can be changed" in w for w in report.warnings)
    assert not (root / UNIT).exists()


def test_unsafe_paths_table(tmp_path: Path) -> None:
    os.chmod(tmp_path, 0o755)
    ok = tmp_path / "ok"
    ok.write_text("")
    os.chmod(ok, 0o644)
    loose = tmp_path / "loose"
    loose.write_text("")
    os.chmod(loose, 0o664)
    theirs = tmp_path / "theirs"
    theirs.write_text("")
    os.chown(theirs, 65534, 65534)
    sticky = tmp_path / "sticky"
    sticky.mkdir(mode=0o755)
    os.chmod(sticky, 0o1777)
    inside = sticky / "f"
    inside.write_text("")
    os.chmod(inside, 0o644)
    base = [p for p in unsafe_paths([tmp_path]) if str(tmp_path) not in p]  # the machine's own /tmp etc.
    assert [p for p in unsafe_paths([ok]) if p not in base] == []
    assert any("loose can be changed by its group or others (mode 0664)" in p for p in unsafe_paths([loose]))
    assert any("owned by uid 65534" in p for p in unsafe_paths([theirs]))
    assert [p for p in unsafe_paths([inside]) if p not in base] == []          # sticky parent, as /tmp
    assert any("sticky can be changed" in p for p in unsafe_paths([sticky]))  # but not as the path itself


def test_bad_input_is_refused_before_anything_is_written(root: Path) -> None:
    cases = [(Options(os="linux", root=root, state="var/lib/pg"), "absolute path"),
             (Options(os="linux", root=root, state="/"), "a folder of its own"),
             (Options(os="linux", root=root, state="/var"), "a folder of its own"),
             (Options(os="linux", root=root, state="/srv/pg agent"), "letters, digits"),
             (Options(os="linux", root=root, user="Bad Name"), "--user"),
             (Options(os="linux", root=root, user="root"), "that is root"),
             (Options(os="linux", root=root, user="nobody"), "other daemons share"),
             (Options(os="beos", root=root), "--os"),
             (Options(os="linux", root=root, policy="/nowhere"), "--policy"),
             (Options(os="linux", root=root, policy="etc/policy"), "--policy: an absolute path"),
             (Options(os="windows" if sys.platform != "win32" else "linux"), "can be installed only on")]
    for opts, words in cases:
        with pytest.raises(InstallError, match=words):
            install(opts)
    assert not (root / "etc/systemd").exists() and not (root / "var").exists()


def test_a_folder_that_is_not_the_agents_is_never_handed_over(root: Path) -> None:
    (root / "var/lib/dpkg").mkdir(parents=True)
    (root / "var/lib/dpkg/status").write_text("")
    with pytest.raises(InstallError, match=r"holds what is not the agent's \(dpkg\)"):
        install(Options(os="linux", root=root, state="/var/lib"))
    assert (root / "var/lib/dpkg").stat().st_uid == 0 and lookup_account(Options(root=root), "postguard") is None
    state = enrolled_state(root)
    (state / ".device.json.x1y2").write_text("")  # an atomic write's temporary file is the agent's
    install(Options(os="linux", root=root, user="pgmade"))
    assert (state / ".device.json.x1y2").stat().st_uid == 996


def test_a_special_file_in_the_state_folder_is_refused(root: Path) -> None:
    state = enrolled_state(root)
    os.mkfifo(state / "mitmproxy" / "pipe")
    with pytest.raises(InstallError, match="not a plain file"):
        hand_over(state, 65534, 65534)


def test_a_symbolic_link_in_the_state_folder_is_refused(root: Path, tmp_path: Path) -> None:
    state = enrolled_state(root)
    outside = tmp_path / "outside"
    outside.write_text("")
    for link in (state / "mitmproxy" / "elsewhere", state / "mitmproxy" / "dir"):
        link.symlink_to(outside if link.name == "elsewhere" else tmp_path)
        with pytest.raises(InstallError, match="symbolic link"):
            hand_over(state, 65534, 65534)
        link.unlink()
    assert outside.stat().st_uid == 0 and tmp_path.stat().st_uid == 0


def test_dry_run_writes_nothing_and_prints_the_unit(root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    before = sorted(p.relative_to(root) for p in root.rglob("*"))
    assert main(["agent", "install", "--root", str(root), "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "would run: useradd --system" in out and "ProtectSystem=strict" in out
    assert "would link /etc/systemd/system/multi-user.target.wants/postguard-agent.service" in out
    assert sorted(p.relative_to(root) for p in root.rglob("*")) == before


def test_cli_install_and_uninstall(root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    need("useradd")
    assert main(["agent", "install", "--root", str(root), "--user", "pgsvc", "--os", "linux"]) == 0
    out = capsys.readouterr().out
    assert "wrote /etc/systemd/system/postguard-agent.service" in out and "not enrolled yet" in out
    assert main(["agent", "uninstall", "--root", str(root), "--os", "linux"]) == 0
    assert "kept the state folder" in capsys.readouterr().out
    assert main(["agent", "uninstall", "--root", str(root), "--os", "linux"]) == 2
    assert "nothing to uninstall" in capsys.readouterr().err


def test_macos_launchd_daemon(root: Path) -> None:
    with open(root / "etc/passwd", "a") as f:
        f.write("_postguard:*:401:401::/var/empty:/usr/bin/false\n")
    state = root / "Library/Application Support/postguard"
    state.mkdir(parents=True)
    (state / "device.key").write_text("k")
    report = install(Options(os="macos", root=root))
    plist_path = root / "Library/LaunchDaemons/org.postguard.agent.plist"
    assert plist_path.stat().st_uid == 0 and mode(plist_path) == 0o644
    data = plistlib.loads(plist_path.read_bytes())
    assert data["Label"] == "org.postguard.agent"
    assert data["ProgramArguments"] == [sys.executable, "-m", "postguard", "agent", "run", "--state",
                                        "/Library/Application Support/postguard",
                                        "--token-file", "/etc/postguard/pairing.token"]  # browser pairing
    assert data["UserName"] == "_postguard" and data["RunAtLoad"] is True and data["KeepAlive"] is True
    assert data["Umask"] == 0o077
    assert (state / "device.key").stat().st_uid == 401 and mode(state / "device.key") == 0o600
    assert mode(state) == 0o700
    assert any("launchctl bootstrap system" in x for x in report.lines)
    uninstall(Options(os="macos", root=root))
    assert not plist_path.exists() and (state / "device.key").exists()


def test_macos_dry_run_prints_a_plist_that_parses(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["agent", "install", "--os", "macos", "--dry-run"]) == 0
    out = capsys.readouterr().out
    xml = out[out.index("<?xml"):out.index("</plist>") + len("</plist>")]
    assert plistlib.loads(xml.encode())["UserName"] == "_postguard"


def test_windows_winsw_definition(root: Path) -> None:
    report = install(Options(os="windows", root=root, python=r"C:\Program Files\postguard\python.exe"))
    base = root / "ProgramData/postguard/service"
    svc = ET.parse(base / "postguard-agent.xml").getroot()
    assert svc.tag == "service" and svc.findtext("id") == "postguard-agent"
    assert svc.findtext("executable") == r"C:\Program Files\postguard\python.exe"
    assert svc.findtext("arguments") == r"-m postguard agent run --state C:\ProgramData\postguard\agent"
    assert svc.findtext("startmode") == "Automatic"
    assert svc.find("onfailure").get("action") == "restart"  # type: ignore[union-attr]
    assert svc.findtext("serviceaccount/username") == r"NT SERVICE\postguard-agent"
    ps1 = (base / "install-service.ps1").read_bytes()
    assert b"\r\n" in ps1 and b"/inheritance:r" in ps1 and b"NT SERVICE\\postguard-agent:(OI)(CI)F" in ps1
    assert (base / "uninstall-service.ps1").exists()
    assert any("does not run on Windows yet" in w for w in report.warnings)


def test_code_under_a_home_folder_is_bound_back_read_only() -> None:
    from agent.install import code_under_home

    opts = Options(os="linux", python="/home/it/venv/bin/python", policy="/home/it/policy")
    assert code_under_home(opts) == ("/home/it/policy", "/home/it/venv")
    unit = systemd_unit(opts, home_paths=code_under_home(opts))
    assert "ProtectHome=tmpfs\nBindReadOnlyPaths=/home/it/policy /home/it/venv\n" in unit
    plain = Options(os="linux", python="/opt/postguard/bin/python", policy="/etc/postguard/policy")
    if not code_under_home(Options()):  # postguard itself is not under a home folder on this machine
        assert code_under_home(plain) == ()
    assert "ProtectHome=yes\n" in systemd_unit(plain)
    from agent.install import code_in_tmp

    assert "/tmp/ci/venv" in code_in_tmp(Options(os="linux", python="/tmp/ci/venv/bin/python"))


def test_unit_quoting_of_odd_paths() -> None:
    unit = systemd_unit(Options(os="linux", state="/srv/pg", python="/opt/50%$x/bin/python"))
    assert "ExecStart=/opt/50%%$$x/bin/python -m postguard" in unit


BOOT = """set -e
mount -t proc proc /proc
mount -t tmpfs tmpfs /run
mkdir -p /run/pgunits
cp -r {root}/etc/systemd/system/. /run/pgunits/
mount --bind {root}/etc/passwd /etc/passwd
mount --bind {root}/etc/group /etc/group
mount -t tmpfs tmpfs /var/lib
mkdir -p /var/lib/postguard
mount --bind {root}/var/lib/postguard /var/lib/postguard
mkdir -p /etc/postguard
mount --bind {root}/etc/postguard /etc/postguard
mount -t tmpfs tmpfs /etc/systemd/system
cp -r /run/pgunits/. /etc/systemd/system/
mount -t tmpfs tmpfs /tmp
mount -t tmpfs tmpfs /var/tmp
exec /lib/systemd/systemd --system --unit=pgtest.target --log-target=console --log-level=notice
"""


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def host_pids(words: str) -> list[int]:
    """Processes (as this machine numbers them) whose command line holds `words`."""
    out = []
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                if words in (d / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace"):
                    out.append(int(d.name))
            except OSError:
                continue
    return out


def children_of(parent: int) -> list[int]:
    """The processes whose parent is `parent`."""
    out = []
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                if int((d / "stat").read_text().rsplit(")", 1)[1].split()[1]) == parent:
                    out.append(int(d.name))
            except (OSError, IndexError, ValueError):
                continue
    return out


def proc_status(pid: int) -> dict[str, str]:
    return dict(line.split(":\t", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines()
                if ":\t" in line)


async def test_the_installed_unit_runs_the_agent_under_systemd(tmp_path: Path, server: Any, http: Any) -> None:
    """The unit install wrote, started by a real systemd (PID 1 of its own PID and mount namespaces,
    with only this unit to start): the agent runs as its account with every hardening option applied,
    uploads and heartbeats, a staff account cannot kill it, systemd restarts it when it is killed,
    and what it creates in the state folder is owner-only."""
    import asyncio
    import json
    import time
    import uuid

    from agent_helpers import enrol_one

    from agent.install import code_in_tmp, code_under_home

    if hidden := code_in_tmp(Options()):
        pytest.skip(f"postguard runs from {hidden[0]}, under /tmp: the unit's PrivateTmp would hide it "
                    f"(install refuses this layout); the service cannot be started from here")
    systemd = Path("/lib/systemd/systemd")
    for tool in ("unshare", "setpriv", "nsenter", "useradd"):
        need(tool)
    if not systemd.exists():
        need("systemd (/lib/systemd/systemd)")
    root = tmp_path / "root"
    (root / "etc").mkdir(parents=True)
    for f in ("passwd", "group"):  # the machine's own accounts, so the new one gets a free uid
        shutil.copy(f"/etc/{f}", root / "etc" / f)
    e = await enrol_one(server, root / STATE, http)
    e.close()
    install(Options(os="linux", root=root))
    acct = lookup_account(Options(root=root), "postguard")
    assert acct is not None
    proxy, backend = free_port(), free_port()
    tag = uuid.uuid4().hex[:8]
    log = Path(f"/dev/shm/pg-install-{tag}.log")
    exec_start = next(x for x in (root / UNIT).read_text().splitlines() if x.startswith("ExecStart="))
    dropin = root / "etc/systemd/system/postguard-agent.service.d/test.conf"
    dropin.parent.mkdir()
    dropin.write_text(  # the test's own: only this unit at boot, free ports, its output where the test reads it
        f"[Unit]\nDefaultDependencies=no\n[Service]\nExecStart=\n{exec_start} --proxy-listen 127.0.0.1:{proxy} "
        f"--backend-listen 127.0.0.1:{backend}\nStandardOutput=file:{log}\nStandardError=file:{log}\n")
    (root / "etc/systemd/system/pgtest.target").write_text(
        "[Unit]\nDefaultDependencies=no\nWants=postguard-agent.service\n")
    boot_log = tmp_path / "systemd.log"
    boot = subprocess.Popen(["unshare", "--pid", "--fork", "--kill-child", "--mount", "--propagation", "private",
                             "--uts", "--cgroup", "bash", "-c", BOOT.format(root=root)],
                            stdout=boot_log.open("wb"), stderr=subprocess.STDOUT)

    def agent_pid() -> int | None:
        pids = [p for p in host_pids(f"agent run --state /var/lib/postguard --token-file /etc/postguard/pairing.token "
                                     f"--proxy-listen 127.0.0.1:{proxy}")
                if "unshare" not in Path(f"/proc/{p}/cmdline").read_text(errors="replace")]
        return pids[0] if pids else None

    async def until(cond: Any, seconds: float = 60) -> Any:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if got := cond():
                return got
            if boot.poll() is not None:
                raise AssertionError(f"systemd ended: {boot_log.read_text(errors='replace')}")
            await asyncio.sleep(0.2)
        raise AssertionError(f"not reached; the service's output:\n{log.read_text() if log.exists() else '-'}\n"
                             f"systemd's:\n{boot_log.read_text(errors='replace')[-3000:]}")

    def starts() -> list[dict[str, Any]]:
        return server.query("SELECT kind, error FROM events WHERE device = ? AND kind = 'agent-start' ORDER BY seq",
                            (e.id,))

    try:
        pid = await until(agent_pid)
        st = proc_status(pid)
        assert st["Uid"].split()[:2] == [str(acct.uid)] * 2 and st["Gid"].split()[0] == str(acct.gid)
        assert st["NoNewPrivs"].strip() == "1" and st["Seccomp"].strip() == "2"   # NoNewPrivileges, the filter
        assert int(st["CapEff"], 16) == 0 and int(st["CapBnd"], 16) == 0        # no capabilities at all
        await until(lambda: len(starts()) == 1)
        await until(lambda: server.query(  # the proxy and the backend both up, as its heartbeat tells
            "SELECT proxy_up FROM devices WHERE id = ? AND proxy_up AND backend_up", (e.id,)), seconds=90)

        def as_service(cmd: str) -> subprocess.CompletedProcess[str]:  # inside the service's own sandbox
            return subprocess.run(["nsenter", "-t", str(pid), "-m", "-S", str(acct.uid), "-G", str(acct.gid),
                                   "sh", "-c", cmd], capture_output=True, text=True, timeout=30)
        assert as_service("touch /var/lib/postguard/.w && rm /var/lib/postguard/.w").returncode == 0
        for path in ("/etc/postguard-x", "/usr/local/postguard-x", f"{Path(sys.executable).parent}/x"):
            r = as_service(f"touch {path}")
            assert r.returncode != 0 and "Read-only file system" in r.stderr, (path, r.stderr)
        # ProtectHome: home folders empty, but for the interpreter's own folder bound back in read-only
        bound = {PurePosixPath(p).parts[2] for p in code_under_home(Options()) if p.startswith("/root/")}
        assert set(as_service("ls -A /root").stdout.split()) == bound
        assert as_service("ls -A /home").stdout.strip() == ""
        assert as_service("ls /tmp").stdout.strip() == ""                        # PrivateTmp: its own, empty

        # a staff member cannot stop it (another account's process) ...
        r = subprocess.run(["setpriv", "--reuid", "65534", "--regid", "65534", "--clear-groups",
                            "kill", "-TERM", str(pid)], capture_output=True, text=True, timeout=30)
        assert r.returncode != 0 and "not permitted" in r.stderr.lower(), r.stderr
        assert agent_pid() == pid
        # ... and when it is killed anyway (by root), systemd starts it again
        os.kill(pid, 9)
        await until(lambda: (p := agent_pid()) is not None and p != pid, seconds=60)
        got = await until(lambda: s if len(s := starts()) == 2 else None, seconds=60)
        assert "without a clean stop" in (got[1]["error"] or "")

        state = root / STATE
        # the administrator's check, as root, from outside the service's namespace
        st_run = await asyncio.to_thread(subprocess.run, [sys.executable, "-m", "postguard", "agent", "status",
                                                          "--state", str(state)], capture_output=True, text=True,
                                         timeout=60)
        assert "agent       running since" in st_run.stdout, st_run.stdout + st_run.stderr
        # the backend's token is the browser pairing token install wrote: root's, readable by the host
        pairing = root / "etc/postguard/pairing.token"
        assert pairing.stat().st_uid == 0 and mode(pairing) == 0o644 and not (state / "backend.token").exists()
        for name in ("device.key", "queue.sqlite", "status.json", "mitmproxy/mitmproxy-ca.pem"):
            p = state / name
            assert p.stat().st_uid == acct.uid and mode(p) == 0o600, (name, oct(mode(p)), p.stat().st_uid)
        assert mode(state / "mitmproxy") == 0o700 and mode(state) == 0o700
        assert json.loads((state / "status.json").read_text())["running"]
        owners = {p.name: p.stat().st_uid for p in state.rglob("*")}
        assert set(owners.values()) == {acct.uid}, owners  # root's status check left no file of root's
    finally:
        for pid in children_of(boot.pid):  # systemd, the namespace's PID 1: every process in it ends with it
            os.kill(pid, 9)
        boot.kill()
        boot.wait(30)
        log.unlink(missing_ok=True)
    await until_gone(proxy)


async def until_gone(port: int) -> None:
    """The namespace's processes are gone: nothing holds the proxy's port any more."""
    import asyncio
    import socket
    import time

    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) != 0:
                return
        await asyncio.sleep(0.2)
    raise AssertionError(f"something still listens on {port} after systemd was stopped")


def test_a_real_install_and_purge_in_a_private_mount_namespace(tmp_path: Path) -> None:
    """`agent install` without --root, as an administrator runs it, on a copy of this machine's /etc
    bound over /etc in a mount namespace of its own (so useradd and the unit change only the copy):
    the account from plain `useradd --system`, the state folder in /var/lib/postguard, the unit and
    its link; no systemd runs there, so it says the service starts at the next boot. Then uninstall
    --purge takes all of it away again, the account included."""
    for tool in ("unshare", "useradd", "userdel", "getent"):
        need(tool)
    py = sys.executable
    script = f"""set -e
mkdir -p {tmp_path}/etc {tmp_path}/varlib
cp -a /etc/. {tmp_path}/etc/
mount --bind {tmp_path}/etc /etc
mount --bind {tmp_path}/varlib /var/lib
mount -t tmpfs tmpfs /run
{py} -m postguard agent install
echo "== state $(stat -c '%U %a' /var/lib/postguard)"
echo "== unit $(stat -c '%U %a' /etc/systemd/system/postguard-agent.service)"
echo "== link $(readlink /etc/systemd/system/multi-user.target.wants/postguard-agent.service)"
echo "== account $(getent passwd postguard)"
{py} -m postguard agent uninstall --purge
echo "== after $(getent passwd postguard || echo no-account) $(ls /etc/systemd/system/postguard-agent.service \
  /var/lib/postguard /etc/postguard 2>&1 | grep -c 'No such file')"
"""
    import postguard
    from agent.install import code_in_tmp

    refused = unsafe_paths([Path(py), Path(postguard.__file__).parent]) + code_in_tmp(Options())
    host_passwd = Path("/etc/passwd").read_bytes()
    if refused:  # postguard runs from a folder others could change: the real install must refuse it
        r = subprocess.run(["unshare", "--mount", "--propagation", "private", "bash", "-c",
                            f"mount -t tmpfs tmpfs /run; {py} -m postguard agent install"],
                           capture_output=True, text=True, timeout=120)
        assert r.returncode == 2 and "could be changed without admin rights" in r.stderr, r.stderr
        print(f"real install refused as it should: {refused[0]}")
        return
    r = subprocess.run(["unshare", "--mount", "--propagation", "private", "bash", "-c", script],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    got = dict(line[3:].split(" ", 1) for line in r.stdout.splitlines() if line.startswith("== "))
    assert got["state"] == "postguard 700" and got["unit"] == "root 644"
    assert got["link"] == "/etc/systemd/system/postguard-agent.service"
    account = got["account"].split(":")
    assert account[0] == "postguard" and int(account[2]) < 1000 and account[6] == "/usr/sbin/nologin"
    assert "systemd is not running on this machine: the service starts at the next boot" in r.stdout
    assert got["after"] == "no-account 3"
    assert Path("/etc/passwd").read_bytes() == host_passwd  # the machine's own accounts untouched
