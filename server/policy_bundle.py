"""`postguard policy publish DIR`: the policy folder (roster included) packed into a reproducible
tar.gz, checked by loading it with the checker, its manifest signed with the server's Ed25519 key
(the one devices pinned at enrolment) and stored as the next version (`store.bundles`).

The signed manifest names the bundle's SHA-256 and size, the policy digest the checker computes
for it, the version and the time; a device verifies it with the pinned key before it unpacks
anything (agent/policy_sync.py).
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import io
import os
import tarfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from server.checkpoint import canonical, key_id
from server.signing import public_key_b64
from store import bundles, devices
from store.db import Conn
from store.event import iso

if TYPE_CHECKING:
    from checker import Policy


class BundleError(ValueError):
    """A policy folder that cannot be published: the message names the file and the reason."""


def policy_files(folder: Path) -> list[Path]:
    """The files a bundle carries (relative, sorted): every regular file but hidden ones and caches.
    A symbolic link or a special file is refused (a bundle must hold what the folder shows)."""
    out: list[Path] = []
    for root, dirs, names in os.walk(folder, followlinks=False):
        base = Path(root)
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d != "__pycache__")
        for d in dirs:
            if (base / d).is_symlink():
                raise BundleError(f"{(base / d).relative_to(folder)}: a symbolic link (a bundle holds files only)")
        for name in sorted(names):
            p = base / name
            if name.startswith("."):
                continue
            if p.is_symlink() or not p.is_file():
                raise BundleError(f"{p.relative_to(folder)}: not a regular file (a bundle holds files only)")
            out.append(p.relative_to(folder))
    if len(out) > bundles.MAX_FILES:
        raise BundleError(f"{folder}: more than {bundles.MAX_FILES} files")
    return sorted(out)


def pack(folder: Path) -> bytes:
    """The folder as a tar.gz whose bytes depend only on the files' names and contents."""
    buf = io.BytesIO()
    total = 0
    with gzip.GzipFile(fileobj=buf, mode="wb", mtime=0, compresslevel=9) as gz, \
            tarfile.open(fileobj=gz, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for rel in policy_files(folder):
            data = (folder / rel).read_bytes()
            total += len(data)
            if total > bundles.MAX_UNPACKED_BYTES:
                raise BundleError(f"{folder}: more than {bundles.MAX_UNPACKED_BYTES:,} bytes of files")
            info = tarfile.TarInfo(rel.as_posix())
            info.size, info.mode, info.mtime = len(data), 0o644, 0
            tar.addfile(info, io.BytesIO(data))
    out = buf.getvalue()
    if len(out) > bundles.MAX_BUNDLE_BYTES:
        raise BundleError(f"{folder}: the bundle would be {len(out):,} bytes (at most {bundles.MAX_BUNDLE_BYTES:,})")
    return out


def manifest(version: int, data: bytes, policy_digest: str, slug: str, key: Ed25519PrivateKey,
             now: float | None = None) -> dict[str, Any]:
    """What is signed: format, version, time, the bundle's SHA-256 and size, the policy digest."""
    return {"format": bundles.FORMAT, "version": version, "created_at": iso(now),
            "sha256": hashlib.sha256(data).hexdigest(), "size": len(data), "policy_digest": policy_digest,
            "slug": slug, "key_id": key_id(public_key_b64(key))}


def load_folder(folder: str | Path) -> Policy:
    """The folder loaded by the checker (every file, rule and model); BundleError with the
    checker's message when it does not load (publishing a folder, loading a served bundle)."""
    from checker import PolicyError, load_policy

    try:
        return load_policy(Path(folder))
    except PolicyError as e:
        raise BundleError(f"the policy does not load: {e}") from None
    except OSError as e:
        raise BundleError(f"the policy does not load: {e.strerror}: {e.filename}") from None


def check_folder(folder: str | Path) -> tuple[Path, str, str]:
    """Load the folder with the checker, and its alert routes (alerts.toml, which the server
    follows once the bundle is in force); its path, slug and digest (BundleError otherwise)."""
    from checker import PolicyError
    from server.alerts_policy import load_alerts

    policy = load_folder(folder)
    try:
        load_alerts(policy)
    except PolicyError as e:
        raise BundleError(f"the alert routes do not load: {e}") from None
    return Path(folder), policy.data.slug, policy.digest


def publish(conn: Conn, folder: str | Path, key: Ed25519PrivateKey, actor: str,
            now: float | None = None) -> bundles.Bundle:
    """Check, pack, sign and store the folder as the next version; devices fetch it from now on."""
    path, slug, digest = check_folder(folder)
    data = pack(path)
    with conn.write():
        version = bundles.next_version(conn)
        text = canonical(manifest(version, data, digest, slug, key, now))
        sig = base64.b64encode(key.sign(text.encode())).decode("ascii")
        b = bundles.Bundle(version=version, created_at=iso(now), policy_digest=digest,
                           sha256=hashlib.sha256(data).hexdigest(), size=len(data), manifest=text, signature=sig,
                           published_by=actor, data=data)
        bundles.save(conn, b)
    devices.note_policy_digest(conn, digest)  # devices on an earlier digest are `outdated` from now on
    return b
