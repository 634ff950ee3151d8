"""install and uninstall."""

from __future__ import annotations

import os
import shutil
from pathlib import PurePosixPath, PureWindowsPath

from agent.install.accounts import _valid_account_name, made_by_install
from agent.install.common import (
    LAUNCHD_LABEL,
    MANIFEST,
    OSES,
    SERVICE,
    WIN_SERVICE_DIR,
    InstallError,
    Options,
    Report,
    _default_run,
    systemd_running,
    this_os,
)
from agent.install.paths import foreign_entries
from agent.install.platforms import _install_linux, _install_macos, _install_windows
from agent.install.steps import _check_code_and_policy, read_manifest


def install(opts: Options) -> Report:
    """Install and enable the service for opts.os; InstallError on anything that cannot be done."""
    if opts.os not in OSES:
        raise InstallError(f"--os: one of {', '.join(OSES)} (got {opts.os!r})")
    if opts.os != this_os() and opts.root is None and not opts.dry_run:
        raise InstallError(f"a {opts.os} service can be installed only on {opts.os}; "
                           f"use --root DIR or --dry-run to write its definition here")
    if not opts.dry_run and opts.root is None and os.geteuid() != 0:
        raise InstallError("installing the service needs administrator rights: run it as root (sudo)")
    state = opts.state_dir()
    pure = PureWindowsPath(state) if opts.os == "windows" else PurePosixPath(state)
    if not pure.is_absolute():
        raise InstallError(f"--state: an absolute path (got {state!r})")
    if opts.os == "windows":
        return _install_windows(opts)
    if pure == PurePosixPath("/") or len(pure.parts) < 3:
        raise InstallError(f"--state: a folder of its own, at least two levels deep (got {state!r})")
    if opts.policy and not PurePosixPath(opts.policy).is_absolute() and opts.os != "windows":
        raise InstallError(f"--policy: an absolute path (got {opts.policy!r})")
    if opts.os == "linux" and not all(c.isascii() and (c.isalnum() or c in "/._-") for c in state):
        raise InstallError(f"--state: letters, digits and / . _ - only on Linux, as systemd's path settings "
                           f"read it (got {state!r})")
    if not _valid_account_name(opts.account()):
        raise InstallError(f"--user: a system account name (small letters, digits, _ and -; got {opts.account()!r})")
    if foreign := foreign_entries(opts.on_disk(state)):
        raise InstallError(f"--state {state}: holds what is not the agent's ({', '.join(foreign[:5])}); "
                           f"choose a new or empty folder of its own")
    report = Report()
    _check_code_and_policy(opts, report)
    if opts.os == "macos":
        return _install_macos(opts, report)
    return _install_linux(opts, report)


def uninstall(opts: Options) -> Report:
    """Stop, disable and remove what install wrote; keep the state folder (the queue) unless purge."""
    if not opts.dry_run and opts.root is None and os.geteuid() != 0:
        raise InstallError("removing the service needs administrator rights: run it as root (sudo)")
    if opts.os == "windows":
        raise InstallError(f"on Windows, run {WIN_SERVICE_DIR}\\uninstall-service.ps1 as an administrator")
    m = read_manifest(opts)
    report = Report()
    verb = "would remove" if opts.dry_run else "removed"
    if opts.root is None and not opts.dry_run:
        run = opts.run or _default_run
        if m.get("os") == "linux" and systemd_running():
            run(["systemctl", "disable", "--now", f"{SERVICE}.service"])
            report.say(f"stopped and disabled {SERVICE}.service")
        elif m.get("os") == "macos" and this_os() == "macos":
            run(["launchctl", "bootout", f"system/{LAUNCHD_LABEL}"])
            report.say(f"stopped {LAUNCHD_LABEL}")
    for entry in [*m.get("links", []), *m["files"]]:
        p = opts.on_disk(entry)
        if p.is_symlink() or p.exists():
            if not opts.dry_run:
                p.unlink()
            report.say(f"{verb} {entry}")
    state = str(m["state"])
    top = opts.on_disk(state)
    if opts.purge:
        if len(PurePosixPath(state).parts) < 3:
            raise InstallError(f"manifest names {state!r} as the state folder: refusing to remove it")
        if top.exists():
            if not opts.dry_run:
                shutil.rmtree(top)
            report.say(f"{verb} the state folder {state} (device key, CA key, queue)")
        if m.get("os") == "linux" and (m.get("created_user") or made_by_install(opts, str(m["user"]))):
            cmd = ["userdel", *(["--prefix", str(opts.root)] if opts.root is not None else []), str(m["user"])]
            if opts.dry_run:
                report.say("would run: " + " ".join(cmd))
            else:
                (opts.run or _default_run)(cmd)
                report.say(f"removed account {m['user']}")
    elif top.exists():
        report.say(f"kept the state folder {state} (enrolment, key and queue: events not yet uploaded "
                   f"stay; --purge removes it)")
    if opts.root is None and not opts.dry_run and m.get("os") == "linux" and systemd_running():
        (opts.run or _default_run)(["systemctl", "daemon-reload"])
    if not opts.dry_run:
        opts.on_disk(MANIFEST).unlink()
        try:
            opts.on_disk(MANIFEST.parent).rmdir()
        except OSError:
            pass  # not empty: something else of postguard's lives there
    report.say(f"{verb} {MANIFEST}")
    return report
