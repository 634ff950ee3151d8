"""Install on each OS: Linux (systemd), macOS (launchd), Windows (WinSW)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from agent.install.accounts import ACCOUNT_COMMENT, Account, lookup_account
from agent.install.common import (
    LAUNCHD_DIR,
    LAUNCHD_LABEL,
    MAC_LOG_DIR,
    MANIFEST,
    SERVICE,
    UNIT_DIR,
    WANTS,
    WIN_SERVICE_DIR,
    InstallError,
    Options,
    Report,
    _default_run,
    _write_root_file,
    systemd_running,
)
from agent.install.steps import _ensure_account, _prepare_state, _write_manifest, _write_native_host
from agent.install.units import (
    code_under_home,
    launchd_plist,
    systemd_unit,
    windows_script,
    windows_uninstall_script,
    winsw_xml,
)


def _install_linux(opts: Options, report: Report) -> Report:
    state, name = opts.state_dir(), opts.account()
    useradd = ["useradd", "--system", "--user-group", "--home-dir", state, "--no-create-home",
               "--shell", "/usr/sbin/nologin", "--comment", ACCOUNT_COMMENT]
    if opts.root is not None:
        useradd += ["--prefix", str(opts.root)]
    useradd.append(name)
    home_code = code_under_home(opts)
    for p in home_code:
        if not all(c.isascii() and (c.isalnum() or c in "/._-") for c in p):
            raise InstallError(f"{p}: postguard's code lies under a home folder at a path systemd cannot be given "
                               f"unquoted; install it under /opt")
    if home_code:
        report.warn(f"{home_code[0]} lies under a home folder: the unit hides home folders with an empty tmpfs "
                    f"and binds only {', '.join(home_code)} back in, read-only (install postguard under /opt "
                    f"to need none)")
    unit = systemd_unit(opts, home_paths=home_code).encode()
    unit_path = UNIT_DIR / f"{SERVICE}.service"
    link = UNIT_DIR / WANTS / f"{SERVICE}.service"
    if opts.dry_run:
        _ensure_account(opts, report, useradd)
        report.say(f"would write {unit_path} (0644, root):\n{unit.decode()}")
        report.say(f"would make {opts.state_dir()} owned by {name}, folders 0700, files 0600")
        report.say(f"would link {link} -> {unit_path} (enabled)")
        _write_native_host(opts, report, False)
        report.say(f"would write {MANIFEST} (0644, root)")
        if opts.root is None and systemd_running():
            report.say(f"would run: systemctl daemon-reload; systemctl restart {SERVICE}.service")
        return report
    acct, created = _ensure_account(opts, report, useradd)
    _prepare_state(opts, acct, report)
    as_root = os.geteuid() == 0
    _write_root_file(opts.on_disk(unit_path), unit, 0o644, as_root)
    report.say(f"wrote {unit_path} (0644, root)")
    wants = opts.on_disk(link)
    wants.parent.mkdir(parents=True, exist_ok=True)
    if wants.is_symlink() or wants.exists():
        wants.unlink()
    wants.symlink_to(str(unit_path))
    report.say(f"enabled: {link} -> {unit_path}")
    host = _write_native_host(opts, report, as_root)
    _write_manifest(opts, {"os": "linux", "service": SERVICE, "user": name, "uid": acct.uid,
                           "created_user": created, "state": state,
                           "files": [str(unit_path), *host], "links": [str(link)]}, as_root)
    report.say(f"wrote {MANIFEST}")
    if opts.root is None:
        if systemd_running():
            run = opts.run or _default_run
            run(["systemctl", "daemon-reload"])
            run(["systemctl", "restart", f"{SERVICE}.service"])
            report.say(f"started: systemctl restart {SERVICE}.service (check: systemctl status {SERVICE})")
        else:
            report.warn("systemd is not running on this machine: the service starts at the next boot")
    return report


def _install_macos(opts: Options, report: Report) -> Report:
    state, name = opts.state_dir(), opts.account()
    plist_path = LAUNCHD_DIR / f"{LAUNCHD_LABEL}.plist"
    plist = launchd_plist(opts)
    steps = [["dscl", ".", "-create", f"/Users/{name}", "UserShell", "/usr/bin/false"],
             ["launchctl", "bootstrap", "system", str(plist_path)]]
    if opts.dry_run or opts.root is not None:
        if opts.dry_run:
            report.say(f"would write {plist_path} (0644, root:wheel):\n{plist.decode()}")
            report.say(f"would make {state} owned by {name}, folders 0700, files 0600")
            _write_native_host(opts, report, False)
        acct = lookup_account(opts, name) if opts.root is not None else None
        if opts.root is not None and not opts.dry_run:
            if acct is None:
                raise InstallError(f"--root on macOS: account {name} must be in {opts.on_disk('/etc/passwd')} "
                                   f"(accounts are made with dscl, which cannot write a fake root)")
            _prepare_state(opts, acct, report)
            _write_root_file(opts.on_disk(plist_path), plist, 0o644, os.geteuid() == 0)
            opts.on_disk(MAC_LOG_DIR).mkdir(parents=True, exist_ok=True)
            host = _write_native_host(opts, report, os.geteuid() == 0)
            _write_manifest(opts, {"os": "macos", "service": LAUNCHD_LABEL, "user": name, "uid": acct.uid,
                                   "created_user": False, "state": state, "files": [str(plist_path), *host],
                                   "links": []}, os.geteuid() == 0)
            report.say(f"wrote {plist_path} (0644) and {MANIFEST}")
        report.say("on a Mac it then runs: " + "; ".join(" ".join(s) for s in steps))
        return report
    acct, created = _ensure_mac_account(opts, report)
    _prepare_state(opts, acct, report)
    _write_root_file(opts.on_disk(plist_path), plist, 0o644, True)
    Path(str(MAC_LOG_DIR)).mkdir(parents=True, exist_ok=True)
    host = _write_native_host(opts, report, True)
    _write_manifest(opts, {"os": "macos", "service": LAUNCHD_LABEL, "user": name, "uid": acct.uid,
                           "created_user": created, "state": state, "files": [str(plist_path), *host],
                           "links": []}, True)
    (opts.run or _default_run)(["launchctl", "bootstrap", "system", str(plist_path)])
    report.say(f"wrote {plist_path}; launchctl bootstrap system {plist_path}")
    return report


def _ensure_mac_account(opts: Options, report: Report) -> tuple[Account, bool]:
    """A hidden system account and group on macOS (dscl), uid and gid the first free one from 400."""
    name = opts.account()
    acct = lookup_account(opts, name)
    if acct is not None:
        return acct, False
    out = subprocess.run(["dscl", ".", "-list", "/Users", "UniqueID"], capture_output=True, text=True, check=True)
    used = {int(f[-1]) for f in (line.split() for line in out.stdout.splitlines()) if f and f[-1].isdigit()}
    uid = next(i for i in range(400, 500) if i not in used)
    run = opts.run or _default_run
    for cmd in (["dscl", ".", "-create", f"/Groups/{name}", "PrimaryGroupID", str(uid)],
                ["dscl", ".", "-create", f"/Users/{name}", "UniqueID", str(uid)],
                ["dscl", ".", "-create", f"/Users/{name}", "PrimaryGroupID", str(uid)],
                ["dscl", ".", "-create", f"/Users/{name}", "UserShell", "/usr/bin/false"],
                ["dscl", ".", "-create", f"/Users/{name}", "NFSHomeDirectory", opts.state_dir()],
                ["dscl", ".", "-create", f"/Users/{name}", "IsHidden", "1"]):
        run(cmd)
    report.say(f"account {name} created (uid {uid}) with dscl")
    return Account(name, uid, uid), True


def _install_windows(opts: Options) -> Report:
    report = Report()
    files = {f"{SERVICE}.xml": winsw_xml(opts), "install-service.ps1": windows_script(opts),
             "uninstall-service.ps1": windows_uninstall_script()}
    report.warn("the agent itself does not run on Windows yet (its lock uses fcntl): this definition "
                "is written and checked for shape only")
    if opts.dry_run:
        for fname, text in files.items():
            report.say(f"would write {WIN_SERVICE_DIR / fname}:\n{text}")
        return report
    base = opts.root / "ProgramData" / "postguard" / "service" if opts.root else Path(str(WIN_SERVICE_DIR))
    base.mkdir(parents=True, exist_ok=True)
    for fname, text in files.items():
        (base / fname).write_text(text, encoding="utf-8", newline="\r\n")
        report.say(f"wrote {WIN_SERVICE_DIR / fname}")
    report.say(f"then, as an administrator, save WinSW's exe there as {SERVICE}.exe and run install-service.ps1")
    return report
