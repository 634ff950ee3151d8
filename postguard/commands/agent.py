"""`postguard agent enroll|run|status|install|uninstall|browser-policy`: the agent on a district computer.

`enroll URL CODE` gives this computer its own Ed25519 key and device id (one-time code from
`postguard devices enroll-code`); `run` starts the proxy and the extension backend writing to the
local queue, uploads the queue to the server exactly once, and sends heartbeats; `status` shows
what waits and what the running agent last did (exit 1 when it is not running or something is
wrong); `install` / `uninstall` (as root) put it in the OS's service manager as its own account
(agent/install/); `browser-policy` writes the browsers' managed policies for it
(agent/browser_policy.py). The state folder is /var/lib/postguard as root, else ./var/agent ($POSTGUARD_AGENT_STATE
or --state to choose)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import TYPE_CHECKING

from postguard import __version__
from postguard.cli import UsageError
from postguard.commands._common import add_policy_arg, policy_from
from postguard.commands.console import parse_listen

if TYPE_CHECKING:
    from agent.state import StateDir


def _state_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--state", metavar="DIR", help="the agent's state folder (default: $POSTGUARD_AGENT_STATE, "
                   "else /var/lib/postguard as root, else ./var/agent)")


def register(sub: argparse._SubParsersAction) -> None:
    """Add the `agent` parser and its sub-commands."""
    p = sub.add_parser("agent", help="the agent on a district computer: enrol, run, status", description=__doc__)
    s = p.add_subparsers(dest="agent_command", metavar="ACTION", required=True)
    q = s.add_parser("enroll", help="enrol this computer with the district server (one-time code)")
    q.add_argument("url", help="the server, e.g. https://postguard.region14.example")
    q.add_argument("code", help="a one-time code from `postguard devices enroll-code`")
    _state_arg(q)
    q.add_argument("--hostname", help="the name this computer is listed under (default: its host name)")
    q.add_argument("--name", help="a description for IT, e.g. 'Library desk 2'")
    q.add_argument("--ca", metavar="FILE", help="trust only this CA (PEM) for the server's certificate")
    q.add_argument("--force", action="store_true", help="enrol again, with a new key and device id")
    q.add_argument("--user", metavar="NAME",
                   help="the staff member assigned to this computer (e-mail address or account name): "
                        "events name them when the browser profile and the connection's OS account cannot")
    q.add_argument("--json", action="store_true")
    q.set_defaults(func=run_enroll)
    q = s.add_parser("run", help="run the proxy, the extension backend, the forwarder and heartbeats")
    _state_arg(q)
    add_policy_arg(q)
    q.add_argument("--proxy-listen", default="127.0.0.1:8080", metavar="HOST:PORT",
                   help="the proxy's address (default 127.0.0.1:8080)")
    q.add_argument("--backend-listen", default="127.0.0.1:8731", metavar="HOST:PORT",
                   help="the extension backend's loopback address (default 127.0.0.1:8731)")
    q.add_argument("--no-proxy", action="store_true", help="do not run the proxy on this computer")
    q.add_argument("--no-backend", action="store_true", help="do not run the extension backend")
    q.add_argument("--confdir", metavar="DIR", help="the proxy's CA folder (default: STATE/mitmproxy)")
    q.add_argument("--token-file", metavar="FILE", help="the backend's install token (default: STATE/backend.token)")
    q.add_argument("--set", dest="sets", metavar="NAME=VALUE", action="append", default=[],
                   help="a proxy option, passed to `postguard proxy --set`")
    q.add_argument("--queue-limit", type=int, default=200_000, metavar="N",
                   help="events the queue may hold before the loudest alarm (default 200000; nothing is dropped)")
    q.add_argument("--policy-every", type=float, default=300.0, metavar="SECONDS",
                   help="how often to ask the server for a new signed policy bundle (default 300)")
    q.add_argument("--max-backoff", type=float, default=300.0, metavar="SECONDS",
                   help="longest wait between upload retries (default 300)")
    q.set_defaults(func=run_run)
    q = s.add_parser("browser-policy", help="write Chrome, Edge and Firefox managed policies for this agent",
                     description="Write the browsers' managed policies, generated from the installed extension "
                     "and this agent's settings (docs/deploy.md, Browser policies).")
    _browser_policy_args(q)
    q.set_defaults(func=run_browser_policy)
    q = s.add_parser("status", help="enrolment, queue and health of this computer's agent")
    _state_arg(q)
    q.add_argument("--json", action="store_true")
    q.set_defaults(func=run_status)
    q = s.add_parser("install", help="install and enable the agent as a protected service (as root)",
                     description="Write and enable the service for this OS: a systemd unit (Linux), a launchd "
                     "daemon (macOS) or a WinSW service definition (Windows), running `agent run` as its own "
                     "account, the state folder owned by that account only (0700/0600).")
    _install_args(q)
    q.add_argument("--state", metavar="DIR", help="the state folder (default: /var/lib/postguard on Linux, "
                   "/Library/Application Support/postguard on macOS, C:\\ProgramData\\postguard\\agent on Windows)")
    q.add_argument("--user", metavar="NAME", help="the service account (default: postguard; _postguard on macOS); "
                   "created with useradd --system when missing")
    q.add_argument("--policy", metavar="DIR", help="the policy folder the service runs with "
                   "(root-owned; default: the packaged policy)")
    q.set_defaults(func=run_install)
    q = s.add_parser("uninstall", help="stop and remove the service `agent install` wrote (as root)",
                     description="Stop, disable and remove what `agent install` recorded in its manifest; the state "
                     "folder (enrolment, key, the queue) and its account are kept unless --purge.")
    _install_args(q)
    q.add_argument("--purge", action="store_true",
                   help="also remove the state folder (device key, CA key, the queue) and the account install made")
    q.set_defaults(func=run_install)


def _install_args(q: argparse.ArgumentParser) -> None:
    from agent.install import OSES

    q.add_argument("--os", choices=OSES, help="the operating system to write for (default: this one; another "
                   "only with --root or --dry-run)")
    q.add_argument("--root", metavar="DIR", help="write everything under this folder as a fake root "
                   "(tests; systemd is not called)")
    q.add_argument("--dry-run", action="store_true", help="print what would be written and run; change nothing")


def _state(args: argparse.Namespace) -> StateDir:
    from agent.state import StateDir, default_state_dir

    return StateDir(Path(args.state) if args.state else default_state_dir())


def run_enroll(args: argparse.Namespace) -> int:
    """Enrol this computer."""
    from agent.enroll import enroll_device, waiting_under_other_ids
    from agent.state import StateError

    state = _state(args)
    try:
        d = enroll_device(state, args.url, args.code, version=__version__, hostname=args.hostname,
                          name=args.name, ca_file=args.ca, force=args.force, user=args.user)
    except StateError as e:
        raise UsageError(str(e)) from None
    left = waiting_under_other_ids(state, d.device_id)
    if args.json:
        print(json.dumps({**d.to_json(), "state": str(state.root), "other_device_events": left}))
        return 0
    print(f"enrolled as {d.device_id} with {d.server}; key in {state.key_file} (owner-only)")
    if left:
        print(f"note: {left:,} event(s) in the queue belong to an earlier device id and cannot be sent now")
    print(f"start it: postguard agent run --state {state.root}")
    return 0


def run_run(args: argparse.Namespace) -> int:
    """Run the agent until interrupted."""
    from agent.forwarder import ForwarderConfig
    from agent.runner import RunOptions, run_agent
    from agent.state import StateError
    from extension.backend.security import host_ok

    state = _state(args)
    policy = policy_from(args, checks=False)  # for its digest; the proxy and backend load it to check
    if args.queue_limit < 1:
        raise UsageError("--queue-limit: at least 1")
    if not 1.0 <= args.policy_every <= 86400:
        raise UsageError("--policy-every: between 1 and 86400 seconds")
    if not 1.0 <= args.max_backoff <= 3600:
        raise UsageError("--max-backoff: between 1 and 3600 seconds")
    for spec in args.sets:
        if "=" not in spec:
            raise UsageError(f"--set: expected NAME=VALUE (got {spec!r})")
    backend = None if args.no_backend else parse_listen(args.backend_listen)
    if backend and not host_ok(f"{backend[0]}:{backend[1]}", 0):
        raise UsageError(f"--backend-listen: the backend binds loopback only (got {backend[0]!r})")
    opts = RunOptions(state=state, policy_dir=args.policy,
                      proxy_listen=None if args.no_proxy else parse_listen(args.proxy_listen),
                      backend_listen=backend, confdir=Path(args.confdir) if args.confdir else None,
                      token_file=Path(args.token_file) if args.token_file else None, proxy_sets=list(args.sets),
                      forwarder=ForwarderConfig(queue_limit=args.queue_limit, backoff_max=args.max_backoff),
                      policy_every=args.policy_every)
    print(f"postguard agent: policy {policy.data.slug} ({policy.district.name}), digest {policy.digest}", flush=True)
    print(f"postguard agent: {policy.data.notice}", flush=True)
    try:
        return run_agent(opts, policy.digest, __version__)
    except StateError as e:
        raise UsageError(str(e)) from None


def run_install(args: argparse.Namespace) -> int:
    """`agent install` / `agent uninstall`."""
    from agent.install import InstallError, Options, install, this_os, uninstall

    opts = Options(os=args.os or this_os(), state=getattr(args, "state", None), user=getattr(args, "user", None),
                   policy=getattr(args, "policy", None), root=Path(args.root).absolute() if args.root else None,
                   dry_run=args.dry_run, purge=getattr(args, "purge", False))
    try:
        report = (install if args.agent_command == "install" else uninstall)(opts)
    except InstallError as e:
        raise UsageError(str(e)) from None
    except OSError as e:
        raise UsageError(f"{e.filename or ''}: {e.strerror}".lstrip(": ")) from None
    for line in report.lines:
        print(line)
    for w in report.warnings:
        print(f"warning: {w}")
    return 0


def run_status(args: argparse.Namespace) -> int:
    """Print the agent's status; exit 1 when it is not running or something needs attention."""
    from agent.state import StateError
    from agent.status import collect, render

    try:
        s = collect(_state(args))
    except StateError as e:
        raise UsageError(str(e)) from None
    if args.json:
        print(json.dumps(s, ensure_ascii=False, indent=2))
    else:
        print(render(s))
    return 0 if s["ok"] else 1


def _browser_policy_args(q: argparse.ArgumentParser) -> None:
    q.add_argument("--out", metavar="DIR", default="browser-policy",
                   help="write here; each file's path under DIR is where it goes (default ./browser-policy)")
    q.add_argument("--os", choices=("linux", "mac", "windows"), help="the computers' OS (default: this one)")
    q.add_argument("--json", action="store_true", help="print what was written as JSON")
    q.add_argument("--update-url", required=True, metavar="URL",
                   help="https URL of the update manifest (updates.xml) the district serves the packed CRX with")
    _state_arg(q)
    add_policy_arg(q)
    q.add_argument("--extension", metavar="DIR", help="the extension (default: the installed extension/webext)")
    q.add_argument("--extension-id", metavar="ID", help="the id of the CRX deployed (default: from the manifest's key)")
    q.add_argument("--proxy-listen", default="127.0.0.1:8080", metavar="HOST:PORT", help="the agent's proxy")
    q.add_argument("--backend-listen", default="127.0.0.1:8731", metavar="HOST:PORT", help="the agent's backend")
    q.add_argument("--token-file", metavar="FILE",
                   help="put this backend token in the managed settings, for a backend the extension calls over "
                        "HTTP (default: none; the extension pairs with the agent by native messaging)")
    q.add_argument("--server-url", metavar="URL", help="the district server, for when no agent answers (Chromebooks)")
    q.add_argument("--group-key-file", metavar="FILE",
                   help="the extension group key (`postguard extension-groups create`) for --server-url")
    q.add_argument("--ca-cert", metavar="FILE", help="the proxy's CA certificate "
                   "(default: STATE/mitmproxy/mitmproxy-ca-cert.pem)")
    q.add_argument("--no-ca", action="store_true", help="leave the CA trust out (the CA is deployed otherwise)")
    q.add_argument("--pac-url", metavar="URL", help="a served PAC URL (default: Chrome/Edge get the PAC as a data: URL, Firefox the PAC file written)")
    q.add_argument("--fallback-direct", action="store_true", help="PAC: go direct when the proxy is down")
    q.add_argument("--mode", choices=("warn", "monitor", "off"), help="the extension's mode (default: its own, warn)")
    q.add_argument("--fail-mode", choices=("pass", "block"), help="the extension's fail mode (default: its own, pass)")
    q.add_argument("--firefox-xpi", metavar="URL", help="https URL of a signed Firefox build of the extension")
    q.add_argument("--firefox-id", metavar="ID", help="that build's add-on id")


def run_browser_policy(args: argparse.Namespace) -> int:
    """Write the browser policies for this agent."""
    import sys

    import agent.browser_policy as bp
    from postguard.commands.pac import build_pac

    os_name = args.os or {"darwin": "mac", "win32": "windows"}.get(sys.platform, "linux")
    state = _state(args)
    policy = policy_from(args, checks=False)
    proxy, backend = parse_listen(args.proxy_listen), parse_listen(args.backend_listen)
    hosts = list(policy.data.social["hosts"])
    notes = []
    try:
        ext = bp.read_extension(Path(args.extension) if args.extension else bp.default_extension_dir(),
                                extension_id=args.extension_id)
        token = bp.read_token(Path(args.token_file)) if args.token_file else None
        group_key = bp.read_group_key(Path(args.group_key_file)) if args.group_key_file else None
        if (args.server_url is None) != (group_key is None):
            raise bp.BrowserPolicyError("--server-url and --group-key-file go together")
        ca = None if args.no_ca else bp.read_ca(Path(args.ca_cert) if args.ca_cert
                                                else state.root / "mitmproxy" / "mitmproxy-ca-cert.pem")
        if ca is None:
            notes.append("no CA trust written (--no-ca): deploy the proxy's CA another way")
        elif ca.constrained is None:
            notes.append(f"the CA ({ca.subject}) has no name constraints: Chrome is told to trust it for the "
                         "social hosts only, and the macOS profile leaves it out of the system's trust")
        if not args.firefox_xpi:
            notes.append("Firefox: no --firefox-xpi, so the extension is not force-installed there (the proxy "
                     "still checks Firefox's posts)")
        s = bp.BrowserSettings(
            extension=ext, update_url=args.update_url,
            managed=bp.managed_settings(backend_url=f"http://{backend[0]}:{backend[1]}", token=token,
                                        mode=args.mode, fail_mode=args.fail_mode,
                                        server_url=args.server_url, group_key=group_key),
            pac_text=build_pac(hosts, f"{proxy[0]}:{proxy[1]}", fallback_direct=args.fallback_direct),
            social_hosts=hosts, ca=ca, pac_url=args.pac_url, firefox_id=args.firefox_id,
            firefox_xpi=args.firefox_xpi, notes=notes)
        outputs = bp.build(s, os_name)
        out = Path(args.out)
        bp.write(outputs, out)
    except bp.BrowserPolicyError as e:
        raise UsageError(str(e)) from None
    except OSError as e:
        raise UsageError(f"{args.out}: {e.strerror}") from None
    info = bp.summary(s, os_name, outputs, out)
    if args.json:
        print(json.dumps(info, indent=2))
        return 0
    print(f"postguard agent browser-policy: {os_name}, extension {ext.chrome_id}, update URL {s.update_url}")
    for f in info["files"]:
        print(f"  {out / f['path']}  ->  {f['install']}")
    for n in notes:
        print(f"note: {n}")
    return 0
