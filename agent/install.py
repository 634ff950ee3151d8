"""`postguard agent install|uninstall`: the agent as a protected service of the operating system.

Linux: a root-owned systemd unit in /etc/systemd/system (hardened: its own account, a read-only
system but for the state folder, no home folders, private /tmp, no privileges to gain, restarted
whenever it stops), enabled for multi-user.target. macOS: a launchd daemon plist in
/Library/LaunchDaemons. Windows: a WinSW service definition (XML) and a PowerShell script that
registers it under a virtual service account. The state folder (device key, the proxy's CA under
`mitmproxy/`, the queue) is handed to the service account, folders 0700 and files 0600.

What install wrote is recorded in a manifest (`/etc/postguard/agent-install.json`, root-owned), so
uninstall removes exactly that and nothing else; the state folder (with the queue) is kept unless
`--purge`. `--root DIR` does everything under a fake root (for tests: no system file is touched,
the account is made in DIR/etc/passwd with `useradd --prefix`, systemd is not called); `--dry-run`
prints what would be written and run.
"""

from __future__ import annotations

import json
import os
import plistlib
import shutil
import stat
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Any
from xml.sax.saxutils import escape

from agent import native_messaging as nm
from agent.state import write_atomic

SERVICE = "postguard-agent"
LAUNCHD_LABEL = "org.postguard.agent"
UNIT_DIR = PurePosixPath("/etc/systemd/system")
WANTS = "multi-user.target.wants"
MANIFEST = PurePosixPath("/etc/postguard/agent-install.json")
LAUNCHD_DIR = PurePosixPath("/Library/LaunchDaemons")
MAC_LOG_DIR = PurePosixPath("/Library/Logs/postguard")
WIN_SERVICE_DIR = PureWindowsPath(r"C:\ProgramData\postguard\service")
DEFAULT_STATE = {"linux": "/var/lib/postguard", "macos": "/Library/Application Support/postguard",
                 "windows": r"C:\ProgramData\postguard\agent"}
DEFAULT_USER = {"linux": "postguard", "macos": "_postguard", "windows": rf"NT SERVICE\{SERVICE}"}
HOME_TREES = ("/home", "/root", "/run/user")
OSES = ("linux", "macos", "windows")


class InstallError(Exception):
    """The service cannot be installed or removed as asked; the message says why and what to do."""


def this_os() -> str:
    """linux, macos or windows: the operating system this process runs on."""
    if sys.platform == "darwin":
        return "macos"
    if sys.platform.startswith("win"):
        return "windows"
    return "linux"


@dataclass
class Options:
    """What `agent install` / `uninstall` was asked to do."""

    os: str = field(default_factory=this_os)
    state: str | None = None          # the state folder as the service sees it (default per OS)
    user: str | None = None           # the service account (default per OS)
    policy: str | None = None         # a policy folder for `agent run --policy` (default: the packaged one)
    python: str = sys.executable      # the interpreter the service runs `-m postguard` with
    root: Path | None = None          # write under this fake root, touch nothing of the system
    dry_run: bool = False
    purge: bool = False               # uninstall: remove the state folder (queue, key) and the account too
    run: Callable[[list[str]], None] | None = None  # runs a command (tests replace it)

    def state_dir(self) -> str:
        """The state folder's path on the target system."""
        return self.state or DEFAULT_STATE[self.os]

    def account(self) -> str:
        """The service account's name."""
        return self.user or DEFAULT_USER[self.os]

    def on_disk(self, path: str | PurePosixPath) -> Path:
        """Where a target path is on this machine (under --root when given)."""
        p = Path(str(path))
        return self.root / p.relative_to(p.anchor) if self.root else p


@dataclass
class Report:
    """What install or uninstall did (or, with --dry-run, would do): one line per step."""

    lines: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def say(self, line: str) -> None:
        self.lines.append(line)

    def warn(self, line: str) -> None:
        self.warnings.append(line)


# ---------------------------------------------------------------- the definitions


def agent_argv(opts: Options) -> list[str]:
    """The command the service runs."""
    argv = [opts.python, "-m", "postguard", "agent", "run", "--state", opts.state_dir()]
    if opts.policy:
        argv += ["--policy", opts.policy]
    if opts.os in nm.PAIRING_TOKEN:  # the backend's token is the browser pairing token (native host)
        argv += ["--token-file", nm.PAIRING_TOKEN[opts.os]]
    return argv


def _unit_quote(arg: str) -> str:
    """One ExecStart word, quoted as systemd reads it ('%' and '$' escaped)."""
    a = arg.replace("%", "%%").replace("$", "$$")
    if a and not any(c in a for c in ' \t"\'\\;'):
        return a
    return '"' + a.replace("\\", "\\\\").replace('"', '\\"') + '"'


def systemd_unit(opts: Options, *, home_paths: tuple[str, ...] = ()) -> str:
    """The systemd unit: `agent run` as the service account, only its state folder writable (the
    state path is checked by install to need no quoting)."""
    state = opts.state_dir()
    user = opts.account()
    exec_start = " ".join(_unit_quote(a) for a in agent_argv(opts))
    return f"""\
# Written by `postguard agent install`; `postguard agent uninstall` removes it.
# Root-owned: only an administrator can stop, disable or change this service.
[Unit]
Description=postguard agent (social-media policy checks, the district's log)
After=network-online.target
Wants=network-online.target
StartLimitIntervalSec=0

[Service]
Type=simple
User={user}
Group={user}
ExecStart={exec_start}
WorkingDirectory={state}
Environment=HOME={state} POSTGUARD_AGENT_STATE={state}
UMask=0077
Restart=always
RestartSec=5
TimeoutStopSec=30
KillMode=mixed

# What the service may touch: its own state folder, nothing else of the file system.
NoNewPrivileges=yes
ProtectSystem=strict
ReadWritePaths={state}
{_protect_home(home_paths)}
PrivateTmp=yes
PrivateDevices=yes
PrivateMounts=yes
ProtectKernelTunables=yes
ProtectKernelModules=yes
ProtectKernelLogs=yes
ProtectControlGroups=yes
ProtectClock=yes
ProtectHostname=yes
ProtectProc=invisible
RestrictSUIDSGID=yes
RestrictRealtime=yes
RestrictNamespaces=yes
LockPersonality=yes
RemoveIPC=yes
CapabilityBoundingSet=
AmbientCapabilities=
RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX AF_NETLINK
SystemCallArchitectures=native
SystemCallFilter=@system-service
SystemCallErrorNumber=EPERM

[Install]
WantedBy=multi-user.target
"""


def _protect_home(home_paths: tuple[str, ...]) -> str:
    """Home folders hidden; when the code itself lies in one (an interpreter under /root, say), an
    empty home tree with only those folders bound in, read-only."""
    if not home_paths:
        return "ProtectHome=yes"
    return "ProtectHome=tmpfs\nBindReadOnlyPaths=" + " ".join(home_paths)


def code_under_home(opts: Options) -> tuple[str, ...]:
    """The folders of the code (interpreter, its venv, postguard) and the policy that lie under a
    home tree, which ProtectHome would hide: they are bound back in read-only."""
    import postguard

    python = os.path.realpath(opts.python)
    found = {os.path.dirname(os.path.dirname(python))}  # the interpreter's prefix (bin/..)
    if opts.python == sys.executable:
        found |= {os.path.realpath(sys.base_prefix), os.path.realpath(sys.prefix)}
    found.add(os.path.realpath(Path(postguard.__file__).parent))
    if opts.policy:
        found.add(opts.policy)
    inside = sorted(p for p in found if _under_home(p))
    return tuple(p for p in inside if not any(p != q and p.startswith(q + "/") for q in inside))


def code_in_tmp(opts: Options) -> list[str]:
    """The code's folders (interpreter prefix, venv, postguard) that lie under /tmp or /var/tmp."""
    import postguard

    found = {os.path.dirname(os.path.dirname(os.path.realpath(opts.python))),
             os.path.realpath(Path(postguard.__file__).parent)}
    if opts.python == sys.executable:
        found.add(os.path.realpath(sys.prefix))
    return sorted(p for p in found if any(p == t or p.startswith(t + "/") for t in ("/tmp", "/var/tmp")))


def launchd_plist(opts: Options) -> bytes:
    """The launchd daemon: `agent run` as the service account, started at boot, restarted always."""
    state = opts.state_dir()
    data: dict[str, Any] = {
        "Label": LAUNCHD_LABEL,
        "ProgramArguments": agent_argv(opts),
        "UserName": opts.account(),
        "GroupName": opts.account(),
        "WorkingDirectory": state,
        "EnvironmentVariables": {"HOME": state, "POSTGUARD_AGENT_STATE": state},
        "RunAtLoad": True,
        "KeepAlive": True,
        "ThrottleInterval": 5,
        "Umask": 0o077,
        "ProcessType": "Standard",
        "StandardOutPath": f"{MAC_LOG_DIR}/agent.log",
        "StandardErrorPath": f"{MAC_LOG_DIR}/agent.log",
    }
    return plistlib.dumps(data, sort_keys=True)


def winsw_xml(opts: Options) -> str:
    """The WinSW service definition: `agent run` under the service's virtual account, automatic
    start, restarted after every failure."""
    argv = agent_argv(opts)
    args = " ".join(f'"{a}"' if " " in a else a for a in argv[1:])
    account = opts.account()
    domain, _, name = account.rpartition("\\")
    return f"""\
<!-- Written by `postguard agent install` (WinSW 2.x/3.x service definition). -->
<service>
  <id>{SERVICE}</id>
  <name>postguard agent</name>
  <description>postguard agent: social-media policy checks and the district's log</description>
  <executable>{escape(argv[0])}</executable>
  <arguments>{escape(args)}</arguments>
  <workingdirectory>{escape(opts.state_dir())}</workingdirectory>
  <env name="POSTGUARD_AGENT_STATE" value="{escape(opts.state_dir(), {'"': '&quot;'})}"/>
  <startmode>Automatic</startmode>
  <delayedAutoStart>false</delayedAutoStart>
  <stoptimeout>30 sec</stoptimeout>
  <onfailure action="restart" delay="5 sec"/>
  <resetfailure>1 hour</resetfailure>
  <serviceaccount>
    <domain>{escape(domain or ".")}</domain>
    <user>{escape(name)}</user>
    <username>{escape(account)}</username>
    <allowservicelogon>true</allowservicelogon>
  </serviceaccount>
  <log mode="roll-by-size"><sizeThreshold>10240</sizeThreshold><keepFiles>8</keepFiles></log>
</service>
"""


def windows_script(opts: Options) -> str:
    """PowerShell (run as an administrator beside WinSW's exe renamed postguard-agent.exe): the state
    folder for the service account only, the service registered, its failure actions, started."""
    state = opts.state_dir()
    account = opts.account()
    return f"""\
# Written by `postguard agent install`. Run as an administrator in {WIN_SERVICE_DIR},
# with WinSW's executable saved there as {SERVICE}.exe beside {SERVICE}.xml.
$ErrorActionPreference = "Stop"
Set-Location -LiteralPath $PSScriptRoot
& .\\{SERVICE}.exe install {SERVICE}.xml
New-Item -ItemType Directory -Force -Path "{state}" | Out-Null
# The state folder (device key, CA key, queue): the service account, SYSTEM and administrators only.
icacls "{state}" /inheritance:r /grant:r "{account}:(OI)(CI)F" "SYSTEM:(OI)(CI)F" "BUILTIN\\Administrators:(OI)(CI)F"
icacls "{state}" /setowner "{account}" /T
# The service's own folder: administrators change it, everyone else may only read.
icacls "$PSScriptRoot" /inheritance:r /grant:r "SYSTEM:(OI)(CI)F" "BUILTIN\\Administrators:(OI)(CI)F" "BUILTIN\\Users:(OI)(CI)RX"
sc.exe failure {SERVICE} reset= 3600 actions= restart/5000/restart/5000/restart/5000
sc.exe failureflag {SERVICE} 1
Start-Service {SERVICE}
"""


def windows_uninstall_script() -> str:
    """PowerShell that stops and removes the service (the state folder is left)."""
    return f"""\
# Written by `postguard agent install`. Run as an administrator in {WIN_SERVICE_DIR}.
$ErrorActionPreference = "Stop"
Set-Location -LiteralPath $PSScriptRoot
Stop-Service {SERVICE} -ErrorAction SilentlyContinue
& .\\{SERVICE}.exe uninstall {SERVICE}.xml
"""


# ---------------------------------------------------------------- accounts


@dataclass(frozen=True)
class Account:
    """A service account: its name and numeric ids."""

    name: str
    uid: int
    gid: int


def lookup_account(opts: Options, name: str) -> Account | None:
    """The account in the target's passwd (ROOT/etc/passwd under --root), or None."""
    if opts.root is None:
        import pwd

        try:
            p = pwd.getpwnam(name)
        except KeyError:
            return None
        return Account(name, p.pw_uid, p.pw_gid)
    try:
        lines = opts.on_disk("/etc/passwd").read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        return None
    for line in lines:
        f = line.split(":")
        if len(f) >= 4 and f[0] == name:
            return Account(name, int(f[2]), int(f[3]))
    return None


SHARED_ACCOUNTS = ("nobody", "nfsnobody", "daemon", "bin", "sys")  # never the service's: others run as them
ACCOUNT_COMMENT = "postguard agent"  # the comment useradd gives the accounts install makes


def made_by_install(opts: Options, name: str) -> bool:
    """Whether the account carries the comment install gives the accounts it makes (so a purge after
    a reinstall still removes it, and never an account someone else made)."""
    if opts.root is None:
        import pwd

        try:
            return pwd.getpwnam(name).pw_gecos == ACCOUNT_COMMENT
        except KeyError:
            return False
    try:
        lines = opts.on_disk("/etc/passwd").read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        return False
    return any(f[0] == name and len(f) >= 5 and f[4] == ACCOUNT_COMMENT for f in (x.split(":") for x in lines))


def _valid_account_name(name: str) -> bool:
    return bool(name) and len(name) <= 32 and name[0] in "_abcdefghijklmnopqrstuvwxyz" and all(
        c.isascii() and (c.islower() or c.isdigit() or c in "_-") for c in name)


# ---------------------------------------------------------------- checks


def unsafe_paths(paths: list[Path]) -> list[str]:
    """Why each path (the code, the policy) could be changed by an account other than root: a path
    or one of its parent folders not owned by root, or writable by its group or by others (a folder
    with the sticky bit excepted only for its own entries, as /tmp). Empty when all are safe."""
    problems: list[str] = []
    seen: set[Path] = set()
    todo = [path.absolute() for path in paths]
    todo += [path.resolve() for path in paths if path.resolve() != path.absolute()]  # where a link leads
    for p in todo:
        for q in [p, *p.parents]:
            if q in seen:
                continue
            seen.add(q)
            try:
                st = q.lstat()
            except FileNotFoundError:
                continue
            mode = stat.S_IMODE(st.st_mode)
            if st.st_uid != 0:
                problems.append(f"{q} is owned by uid {st.st_uid}, not root")
            elif stat.S_ISLNK(st.st_mode):
                continue  # a link's own mode means nothing; its owner and folder are checked
            elif mode & 0o022 and not (stat.S_ISDIR(st.st_mode) and mode & stat.S_ISVTX and q != p):
                problems.append(f"{q} can be changed by its group or others (mode {mode:04o})")
    return problems


def _tree_unsafe(top: Path) -> list[str]:
    """unsafe_paths for a folder and everything in it."""
    found = unsafe_paths([top])
    if top.is_dir():
        for dirpath, dirnames, filenames in os.walk(top):
            for n in [*dirnames, *filenames]:
                q = Path(dirpath) / n
                st = q.lstat()
                if st.st_uid != 0 or stat.S_IMODE(st.st_mode) & 0o022:
                    found.append(f"{q} can be changed by an account other than root "
                                 f"(owner uid {st.st_uid}, mode {stat.S_IMODE(st.st_mode):04o})")
    return found


def _under_home(path: str) -> bool:
    return any(path == h or path.startswith(h + "/") for h in HOME_TREES)


# ---------------------------------------------------------------- writing


def _write_root_file(path: Path, data: bytes, mode: int, owned_by_root: bool) -> None:
    """Write a file atomically with its mode (and root's ownership when we are root)."""
    write_atomic(path, data, mode, (0, 0) if owned_by_root else None)


STATE_NAMES = ("device.json", "device.key", "device.key.new", "queue.sqlite", "queue.sqlite-wal", "queue.sqlite-shm",
               "queue.sqlite-journal", "status.json", "agent.lock", "backend.token", "mitmproxy")


def foreign_entries(top: Path) -> list[str]:
    """What a folder holds at its top that is not the agent's (its own files, and the dot-named
    temporary files of its atomic writes): install refuses to hand such a folder to the account."""
    try:
        names = sorted(os.listdir(top))
    except FileNotFoundError:
        return []
    return [n for n in names if n not in STATE_NAMES and not n.startswith(".")]


def hand_over(top: Path, uid: int, gid: int) -> int:
    """Give a state folder and everything in it to the service account: folders 0700, files 0600.
    Walked by file descriptors and opened without following links (os.fwalk, O_NOFOLLOW), so a link
    put into the folder, even while this runs, cannot hand over a file outside it; a link or a
    special file is refused. Returns how many entries were handed over."""
    n = 0
    for _dirpath, dirnames, filenames, dirfd in os.fwalk(top, follow_symlinks=False):
        os.fchown(dirfd, uid, gid)
        os.fchmod(dirfd, 0o700)
        n += 1
        for name in [*filenames, *(d for d in dirnames if os.path.islink(os.path.join(_dirpath, d)))]:
            try:
                fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_NOCTTY, dir_fd=dirfd)
            except OSError:
                raise InstallError(f"{_dirpath}/{name}: a symbolic link or unreadable entry in the state folder; "
                                   f"remove it and install again") from None
            try:
                if not stat.S_ISREG(os.fstat(fd).st_mode):
                    raise InstallError(f"{_dirpath}/{name}: not a plain file; remove it and install again")
                os.fchown(fd, uid, gid)
                os.fchmod(fd, 0o600)
            finally:
                os.close(fd)
            n += 1
    return n


def _default_run(argv: list[str]) -> None:
    try:
        r = subprocess.run(argv, capture_output=True, text=True, timeout=120)
    except FileNotFoundError:
        raise InstallError(f"{argv[0]}: not found on this computer") from None
    if r.returncode != 0:
        raise InstallError(f"{' '.join(argv)} failed ({r.returncode}): {(r.stderr or r.stdout).strip()[:500]}")


def systemd_running() -> bool:
    """Whether systemd is this machine's service manager right now (as sd_booted() tells)."""
    return Path("/run/systemd/system").is_dir()


# ---------------------------------------------------------------- install


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


# ---------------------------------------------------------------- uninstall


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
