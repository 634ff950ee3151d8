"""The native messaging host registration that pairs the browser extension with the agent: a host
manifest per browser (which program to start, for which extension ids only) and the launcher it
names (`python -m extension.native_host` with the backend's address and the pairing token file).

`postguard agent install` writes them to the browsers' system folders; tests write them into a
throw-away Chromium profile (`<user-data-dir>/NativeMessagingHosts/`).
"""

from __future__ import annotations

import json
import secrets
import shlex
from pathlib import Path, PurePosixPath

from extension.native_host import HOST_NAME

# Where each browser reads system-wide host manifests on Linux and macOS (Windows: the registry,
# HKLM\Software\Google\Chrome\NativeMessagingHosts\<name> -> the manifest's path).
SYSTEM_HOST_DIRS = {
    "linux": {"chrome": "/etc/opt/chrome/native-messaging-hosts",
              "chromium": "/etc/chromium/native-messaging-hosts",
              "edge": "/etc/opt/edge/native-messaging-hosts"},
    "macos": {"chrome": "/Library/Google/Chrome/NativeMessagingHosts",
              "chromium": "/Library/Application Support/Chromium/NativeMessagingHosts",
              "edge": "/Library/Microsoft/Edge/NativeMessagingHosts"},
}
LAUNCHER = {"linux": "/usr/local/lib/postguard/native-host", "macos": "/usr/local/lib/postguard/native-host"}
PAIRING_TOKEN = {"linux": "/etc/postguard/pairing.token", "macos": "/etc/postguard/pairing.token"}  # beside the install manifest


def host_manifest(launcher: str, extension_ids: tuple[str, ...]) -> dict[str, object]:
    """Chrome's host manifest: the browser starts `launcher` for these extension ids only."""
    if not PurePosixPath(launcher).is_absolute():
        raise ValueError(f"the launcher's path must be absolute on Linux and macOS (got {launcher!r})")
    return {"name": HOST_NAME, "description": "postguard: pairs the browser extension with the agent on this computer",
            "path": launcher, "type": "stdio",
            "allowed_origins": [f"chrome-extension://{i}/" for i in extension_ids]}


def host_manifest_bytes(launcher: str, extension_ids: tuple[str, ...]) -> bytes:
    """The manifest as the file holds it."""
    return (json.dumps(host_manifest(launcher, extension_ids), indent=2) + "\n").encode()


def launcher_script(python: str, backend_url: str, token_file: str) -> bytes:
    """The program the manifest names (a manifest cannot pass arguments): the host, told where the
    backend listens and where the pairing token is. The browser appends the caller's origin."""
    argv = [python, "-m", "extension.native_host", "--backend", backend_url, "--token-file", token_file]
    return ("#!/bin/sh\n# postguard native messaging host (written by postguard agent install, or native-host --register)\n"
            f"exec {' '.join(shlex.quote(a) for a in argv)} \"$@\"\n").encode()


def host_files(os_name: str, python: str, backend_url: str = "http://127.0.0.1:8731",
               extension_ids: tuple[str, ...] | None = None) -> list[tuple[str, bytes, int]]:
    """(path, content, mode) of the launcher and of one host manifest per browser, for `os_name`
    (linux or macos)."""
    from extension.backend.config import EXTENSION_ID

    launcher = LAUNCHER[os_name]
    out = [(launcher, launcher_script(python, backend_url, PAIRING_TOKEN[os_name]), 0o755)]
    manifest = host_manifest_bytes(launcher, extension_ids or (EXTENSION_ID,))
    out += [(f"{d}/{HOST_NAME}.json", manifest, 0o644) for d in SYSTEM_HOST_DIRS[os_name].values()]
    return out


def pairing_token(existing: Path) -> bytes:
    """The pairing token file's content: the one already there (a re-install keeps browsers paired),
    else a new random one. The backend is started with it and the host sends it; every account on
    the computer may read it (the host runs as whoever is signed in), see SECURITY.md."""
    try:
        old = existing.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError):
        old = ""
    return ((old if len(old) >= 16 else secrets.token_urlsafe(32)) + "\n").encode()


# Per-user folders on Linux (`postguard native-host --register`: a developer's or a trial's own
# browser, no administrator rights); <user-data-dir>/NativeMessagingHosts of the default profile.
USER_HOST_DIRS = {"chrome": ".config/google-chrome", "chromium": ".config/chromium", "edge": ".config/microsoft-edge"}


def register_user(browser: str, python: str, backend_url: str, token_file: Path, home: Path) -> list[Path]:
    """The host for this user's `browser` only: the launcher under ~/.local/share/postguard and the
    manifest in the browser's per-user folder; returns both paths."""
    if browser not in USER_HOST_DIRS:
        raise ValueError(f"browser: one of {', '.join(USER_HOST_DIRS)} (got {browser!r})")
    launcher = home / ".local/share/postguard/native-host"
    manifest = home / USER_HOST_DIRS[browser] / "NativeMessagingHosts" / f"{HOST_NAME}.json"
    from extension.backend.config import EXTENSION_ID

    for path, data, mode in ((launcher, launcher_script(python, backend_url, str(token_file.resolve())), 0o755),
                             (manifest, host_manifest_bytes(str(launcher), (EXTENSION_ID,)), 0o644)):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        path.chmod(mode)
    return [launcher, manifest]
