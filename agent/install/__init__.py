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

from agent.install.accounts import lookup_account
from agent.install.common import OSES, InstallError, Options, Report, this_os
from agent.install.flow import install, uninstall
from agent.install.paths import hand_over, unsafe_paths
from agent.install.steps import read_manifest
from agent.install.units import code_in_tmp, code_under_home, launchd_plist, systemd_unit, winsw_xml

__all__ = ["OSES", "InstallError", "Options", "Report", "code_in_tmp", "code_under_home", "hand_over", "install",
           "launchd_plist", "lookup_account", "read_manifest", "systemd_unit", "this_os", "uninstall",
           "unsafe_paths", "winsw_xml"]
