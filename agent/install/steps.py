"""The steps every OS's install shares: checks, the state folder, the account, the native host, the manifest."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from agent import native_messaging as nm
from agent.install.accounts import SHARED_ACCOUNTS, Account, lookup_account
from agent.install.common import (
    MANIFEST,
    InstallError,
    Options,
    Report,
    _default_run,
    _write_root_file,
)
from agent.install.paths import _tree_unsafe, foreign_entries, hand_over, unsafe_paths
from agent.install.units import code_in_tmp


def _check_code_and_policy(opts: Options, report: Report) -> None:
    """The staff member must not be able to change what the service runs: refuse (warn under --root
    or --dry-run) when the interpreter, postguard's code or the policy is writable by a non-root account."""
    import postguard

    paths = [Path(opts.python), Path(postguard.__file__).parent]
    problems = unsafe_paths(paths)
    problems += [f"{p} lies under a temporary folder, which the service's PrivateTmp hides"
                 for p in code_in_tmp(opts)]
    if opts.policy:
        pol = opts.on_disk(opts.policy)
        if not pol.is_dir():
            raise InstallError(f"--policy: no folder {pol}")
        problems += _tree_unsafe(pol)
    if not problems:
        return
    text = "what the service runs could be changed without admin rights: " + "; ".join(problems[:5])
    if opts.root is not None or opts.dry_run:
        report.warn(text)
    else:
        raise InstallError(text + " (install postguard and the policy root-owned, e.g. under /opt and /etc)")


def _prepare_state(opts: Options, acct: Account, report: Report) -> Path:
    """Make (or take over) the state folder for the account, 0700, its files 0600."""
    top = opts.on_disk(opts.state_dir())
    for parent in reversed(top.parents):
        if not parent.exists():
            parent.mkdir(mode=0o755)
    top.mkdir(mode=0o700, exist_ok=True)
    if top.is_symlink() or not top.is_dir():
        raise InstallError(f"{top}: not a folder")
    if foreign := foreign_entries(top):
        raise InstallError(f"--state {opts.state_dir()}: holds what is not the agent's ({', '.join(foreign[:5])}); "
                           f"choose a new or empty folder of its own")
    n = hand_over(top, acct.uid, acct.gid)
    report.say(f"state folder {opts.state_dir()}: owned by {acct.name} (uid {acct.uid}), "
               f"folders 0700, files 0600 ({n} entr{'y' if n == 1 else 'ies'})")
    if not (top / "device.json").exists():
        report.warn(f"not enrolled yet: run as root `postguard agent enroll URL CODE --state {opts.state_dir()}`, "
                    f"then `postguard agent install` again (it hands the new files to {acct.name}); "
                    f"until then the service stops at start and is retried every 5 s")
    return top


def _ensure_account(opts: Options, report: Report, useradd: list[str]) -> tuple[Account, bool]:
    """The service account, made with `useradd` (or dscl on macOS) when it is missing."""
    name = opts.account()
    acct = lookup_account(opts, name)
    if acct is not None:
        if acct.uid == 0 or name in SHARED_ACCOUNTS:
            raise InstallError(f"--user {name}: {'that is root' if acct.uid == 0 else 'an account other daemons share'}; "
                               f"the service needs an account of its own")
        report.say(f"account {name} (uid {acct.uid}) already there")
        return acct, False
    if opts.dry_run:
        report.say("would run: " + " ".join(useradd))
        return Account(name, -1, -1), True
    (opts.run or _default_run)(useradd)
    made = lookup_account(opts, name)
    if made is None:
        raise InstallError(f"{useradd[0]} ran but account {name} is still missing")
    report.say(f"account {name} created (uid {made.uid}): " + " ".join(useradd))
    return made, True


def _write_native_host(opts: Options, report: Report, as_root: bool) -> list[str]:
    """The browsers' native messaging host (zero-configuration pairing of the extension with this
    agent, agent/native_messaging.py) and the pairing token; returns the paths written."""
    files = nm.host_files(opts.os, opts.python)
    token = nm.PAIRING_TOKEN[opts.os]
    files.append((token, nm.pairing_token(opts.on_disk(token)), 0o644))
    for path, data, mode in files:
        if opts.dry_run:
            report.say(f"would write {path} ({mode:04o}, root)")
            continue
        target = opts.on_disk(path)
        target.parent.mkdir(parents=True, exist_ok=True, mode=0o755)
        _write_root_file(target, data, mode, as_root)
    if not opts.dry_run:
        report.say(f"native messaging host {nm.HOST_NAME} registered for Chrome, Chromium and Edge "
                   f"({nm.LAUNCHER[opts.os]}; pairing token {token})")
    return [path for path, _, _ in files]


def _write_manifest(opts: Options, data: dict[str, Any], as_root: bool) -> None:
    path = opts.on_disk(MANIFEST)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o755)
    _write_root_file(path, (json.dumps(data, indent=2) + "\n").encode(), 0o644, as_root)


def read_manifest(opts: Options) -> dict[str, Any]:
    """What install wrote; InstallError when nothing was installed here."""
    path = opts.on_disk(MANIFEST)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InstallError(f"nothing to uninstall: no {path} (the service was not installed with "
                           f"`postguard agent install` here)") from None
    except (OSError, ValueError) as e:
        raise InstallError(f"{path}: unreadable ({type(e).__name__}); remove the service by hand") from None
    if not isinstance(data, dict) or not isinstance(data.get("files"), list) or not data.get("state"):
        raise InstallError(f"{path}: not an install manifest; remove the service by hand")
    return data
