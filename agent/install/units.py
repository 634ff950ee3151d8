"""The service definitions: the systemd unit, the launchd plist, the WinSW XML and its scripts."""

from __future__ import annotations

import os
import plistlib
import sys
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

from agent.install.common import (
    LAUNCHD_LABEL,
    MAC_LOG_DIR,
    SERVICE,
    WIN_SERVICE_DIR,
    Options,
    agent_argv,
)
from agent.install.paths import _under_home


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
