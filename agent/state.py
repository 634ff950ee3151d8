"""The agent's state folder: `device.json` (server URL, device id), `device.key` (Ed25519, 0600),
`queue.sqlite` (the local log, the durable queue), `status.json` (what the running agent last did)
and `policy/` (the signed policy bundles, `policy/current` the one in force: agent/policy_dir.py).

The folder is owner-only (0700) and the key file 0600, owned by the account the agent runs as;
an agent refuses a key that others can read, as ssh does.
"""

from __future__ import annotations

import json
import os
import stat
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

SYSTEM_STATE = Path("/var/lib/postguard")
USER_STATE = Path("var") / "agent"
STATE_ENV = "POSTGUARD_AGENT_STATE"


class StateError(Exception):
    """The state folder is missing, unreadable or unsafe; the message says what to do."""


def default_state_dir() -> Path:
    """$POSTGUARD_AGENT_STATE, else /var/lib/postguard as root, else ./var/agent."""
    if env := os.environ.get(STATE_ENV):
        return Path(env)
    return SYSTEM_STATE if os.geteuid() == 0 else USER_STATE


@dataclass(frozen=True)
class Device:
    """This computer's enrolment, as `device.json` keeps it."""

    server: str                  # the server's base URL, e.g. https://postguard.region14.example
    device_id: str
    hostname: str
    enrolled_at: str
    heartbeat_interval: int = 300
    ca_file: str | None = None   # a private CA to trust for the server's certificate
    server_key: str | None = None  # the server's Ed25519 public key (base64), pinned at enrolment
    user: str | None = None      # the staff member assigned to this computer (enroll --user)

    def to_json(self) -> dict[str, Any]:
        """The file's content."""
        return asdict(self)


@dataclass(frozen=True)
class StateDir:
    """The paths inside one state folder."""

    root: Path

    @property
    def device_file(self) -> Path:
        return self.root / "device.json"

    @property
    def key_file(self) -> Path:
        return self.root / "device.key"

    @property
    def queue(self) -> Path:
        return self.root / "queue.sqlite"

    @property
    def status_file(self) -> Path:
        return self.root / "status.json"

    @property
    def policy(self) -> Path:
        return self.root / "policy"

    def ensure(self) -> None:
        """Create the folder, owner-only."""
        self.root.mkdir(parents=True, exist_ok=True)
        try:
            os.chmod(self.root, 0o700)
        except OSError as e:
            raise StateError(f"{self.root}: cannot make it owner-only: {e.strerror}") from None

    def enrolled(self) -> bool:
        """Whether a device file and key are here."""
        return self.device_file.exists() and self.key_file.exists()

    def load_device(self) -> Device:
        """The enrolment; StateError when there is none or it is damaged."""
        try:
            data = json.loads(self.device_file.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise StateError(f"not enrolled: no {self.device_file} (run: postguard agent enroll URL CODE)") from None
        except (OSError, ValueError) as e:
            raise StateError(f"{self.device_file}: unreadable ({type(e).__name__})") from None
        try:
            return Device(server=str(data["server"]), device_id=str(data["device_id"]),
                          hostname=str(data["hostname"]), enrolled_at=str(data["enrolled_at"]),
                          heartbeat_interval=int(data.get("heartbeat_interval") or 300),
                          ca_file=data.get("ca_file"), server_key=data.get("server_key"),
                          user=data.get("user") or None)
        except (KeyError, TypeError, ValueError):
            raise StateError(f"{self.device_file}: not a device file (enrol again)") from None

    def save_device(self, device: Device) -> None:
        """Write `device.json` atomically."""
        write_private(self.device_file, (json.dumps(device.to_json(), indent=2) + "\n").encode())

    def load_key(self) -> Ed25519PrivateKey:
        """The device key; StateError when missing, readable by others, or not an Ed25519 key."""
        path = self.key_file
        try:
            st = path.stat()
        except FileNotFoundError:
            raise StateError(f"not enrolled: no {path} (run: postguard agent enroll URL CODE)") from None
        if st.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise StateError(f"{path}: readable by others (mode {stat.S_IMODE(st.st_mode):04o}); "
                             f"run chmod 600 {path}, and revoke the device if the key may have been copied")
        if hasattr(os, "geteuid") and st.st_uid != os.geteuid():
            raise StateError(f"{path}: owned by another account (uid {st.st_uid}); the agent must run as its owner")
        try:
            key = serialization.load_pem_private_key(path.read_bytes(), password=None)
        except (OSError, ValueError, TypeError):
            raise StateError(f"{path}: not a PEM private key") from None
        if not isinstance(key, Ed25519PrivateKey):
            raise StateError(f"{path}: not an Ed25519 key")
        return key

    def save_key(self, key: Ed25519PrivateKey, path: Path | None = None) -> Path:
        """Write the key (PKCS#8 PEM, unencrypted, mode 0600) to `path` (default device.key)."""
        target = path or self.key_file
        pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
        write_private(target, pem)
        return target


def new_key() -> Ed25519PrivateKey:
    """A fresh device key."""
    return Ed25519PrivateKey.generate()


def write_private(path: Path, data: bytes) -> None:
    """Write a file owner-only (0600) and atomically (see `write_atomic`)."""
    write_atomic(path, data, 0o600)


def write_atomic(path: Path, data: bytes, mode: int, owner: tuple[int, int] | None = None) -> None:
    """Write a file with its mode (and owner) set before it has any content, atomically: a
    temporary file in the same folder, fsynced, then renamed over the old one (a crash leaves the
    old file or the new one, never half)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        os.fchmod(fd, mode)
        if owner is not None:
            os.fchown(fd, *owner)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def read_status(state: StateDir) -> dict[str, Any] | None:
    """What the running (or last) agent wrote into `status.json`, or None."""
    try:
        data = json.loads(state.status_file.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def write_status(state: StateDir, status: dict[str, Any]) -> None:
    """Replace `status.json` (atomically, owner-only)."""
    write_private(state.status_file, (json.dumps(status, indent=2, sort_keys=True) + "\n").encode())
