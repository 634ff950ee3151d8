"""What every part of the installer shares: where things go per OS, the options, the report."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath, PureWindowsPath

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


def agent_argv(opts: Options) -> list[str]:
    """The command the service runs."""
    argv = [opts.python, "-m", "postguard", "agent", "run", "--state", opts.state_dir()]
    if opts.policy:
        argv += ["--policy", opts.policy]
    if opts.os in nm.PAIRING_TOKEN:  # the backend's token is the browser pairing token (native host)
        argv += ["--token-file", nm.PAIRING_TOKEN[opts.os]]
    return argv


def _write_root_file(path: Path, data: bytes, mode: int, owned_by_root: bool) -> None:
    """Write a file atomically with its mode (and root's ownership when we are root)."""
    write_atomic(path, data, mode, (0, 0) if owned_by_root else None)


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
