"""Signing the chain heads (Ed25519) into checkpoints, exporting them, and checking an exported one."""

from __future__ import annotations

import base64
import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    load_pem_private_key,
)

from server.signing import load_public_key, public_key_b64, signature_ok
from store import checkpoints
from store.db import Conn
from store.event import iso

DEFAULT_KEY = Path("var") / "server-signing.key"


class CheckpointError(ValueError):
    """A checkpoint file that cannot be trusted: unreadable, malformed, or a bad signature."""


def load_or_create_key(path: str | Path) -> Ed25519PrivateKey:
    """The server's signing key from a PEM file, created (mode 0600) when it does not exist."""
    p = Path(path)
    if p.exists():
        return load_key(p)
    key = Ed25519PrivateKey.generate()
    p.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with open(fd, "wb") as f:
        f.write(key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()))
    return key


def load_key(path: str | Path) -> Ed25519PrivateKey:
    """The server's existing signing key (CheckpointError when it is missing or not one: a
    checkpoint signed by a new key would not match the ones exported before)."""
    p = Path(path)
    try:
        key = load_pem_private_key(p.read_bytes(), password=None)
    except OSError as e:
        raise CheckpointError(f"{p}: {e.strerror} (the server creates its signing key on first start)") from None
    except ValueError:
        raise CheckpointError(f"{p}: not a PEM private key") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise CheckpointError(f"{p}: not an Ed25519 private key")
    return key


def trusted_key_from(path: str | Path) -> str:
    """A trusted public key (base64) from a file holding it, or derived from the signing key's PEM."""
    try:
        text = Path(path).read_text(encoding="utf-8").strip()
    except OSError as e:
        raise CheckpointError(f"{path}: {e.strerror}") from None
    if text.startswith("-----BEGIN"):
        return public_key_b64(load_key(path))
    try:
        load_public_key(text)
    except ValueError:
        raise CheckpointError(f"{path}: not a public key (base64 of 32 bytes) or a PEM signing key") from None
    return text


def key_id(public_b64: str) -> str:
    """A short name for a public key: the first 16 hex digits of its SHA-256."""
    return hashlib.sha256(base64.b64decode(public_b64)).hexdigest()[:16]


def canonical(payload: dict[str, Any]) -> str:
    """The exact text that is signed (sorted keys, no spaces)."""
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def make(conn: Conn, key: Ed25519PrivateKey, reason: str, now: float | None = None) -> dict[str, Any]:
    """Sign every device's chain head now, append the checkpoint, and return it as exported."""
    pub = public_key_b64(key)
    kid = key_id(pub)
    payload: dict[str, Any] = {"format": checkpoints.FORMAT, "created_at": iso(now), "key_id": kid,
                               "public_key": pub, "heads": checkpoints.current_heads(conn)}
    text = canonical(payload)
    sig = base64.b64encode(key.sign(text.encode())).decode()
    cid = checkpoints.save(conn, kid, text, sig, reason, now)
    return {"id": cid, "payload": payload, "signature": sig}


def exported(row: dict[str, Any]) -> dict[str, Any]:
    """A stored checkpoint as written to a file."""
    return {"id": row["id"], "payload": json.loads(row["payload"]), "signature": row["signature"]}


def write_file(cp: dict[str, Any], path: str | Path) -> None:
    """Write a checkpoint to a file (replacing it atomically)."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    tmp = p.with_name(p.name + ".tmp")
    tmp.write_text(json.dumps(cp, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    os.replace(tmp, p)


@dataclass(frozen=True)
class Checked:
    """A checkpoint whose signature holds: when it was made, by which key, and its heads."""

    created_at: str
    key_id: str
    heads: list[dict[str, Any]]


def read_file(path: str | Path, trusted_key: str | None = None) -> Checked:
    """Read and check an exported checkpoint: well formed and signed by its key (and that key is
    `trusted_key`, base64, when given). CheckpointError otherwise."""
    try:
        cp = json.loads(Path(path).read_text(encoding="utf-8"))
        payload, sig = cp["payload"], str(cp["signature"])
        pub = str(payload["public_key"])
        heads = [{"device": str(h["device"]), "seq": int(h["seq"]), "hash": str(h["hash"])}
                 for h in payload["heads"]]
    except OSError as e:
        raise CheckpointError(f"{path}: {e.strerror}") from None
    except (ValueError, KeyError, TypeError):
        raise CheckpointError(f"{path}: not a postguard checkpoint file") from None
    if payload.get("format") != checkpoints.FORMAT:
        raise CheckpointError(f"{path}: unknown checkpoint format {payload.get('format')!r}")
    if trusted_key is not None and pub != trusted_key:
        raise CheckpointError(f"{path}: signed by key {key_id(pub)}, not the trusted key {key_id(trusted_key)}")
    try:
        ok = signature_ok(load_public_key(pub), sig, canonical(payload).encode())
    except ValueError:
        ok = False
    if not ok:
        raise CheckpointError(f"{path}: the signature does not match its contents")
    return Checked(str(payload["created_at"]), key_id(pub), heads)
