"""The device API's request signature (docs/device-api.md): what is signed and how it is checked."""

from __future__ import annotations

import base64
import binascii
import hashlib
import secrets
import time

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

VERSION = "postguard-v1"
H_DEVICE, H_TIME, H_NONCE, H_SIGNATURE = ("X-Postguard-Device", "X-Postguard-Time", "X-Postguard-Nonce",
                                          "X-Postguard-Signature")


def signed_string(method: str, path_qs: str, t: str, nonce: str, body: bytes) -> bytes:
    """The bytes a device signs: version, method, path with query, time, nonce, body SHA-256."""
    return "\n".join((VERSION, method.upper(), path_qs, t, nonce, hashlib.sha256(body).hexdigest())).encode()


def sign_headers(key: Ed25519PrivateKey, device: str, method: str, path_qs: str, body: bytes = b"",
                 now: float | None = None, nonce: str | None = None) -> dict[str, str]:
    """The four signature headers of one request."""
    t = str(int(time.time() if now is None else now))
    nonce = nonce or secrets.token_hex(16)
    sig = key.sign(signed_string(method, path_qs, t, nonce, body))
    return {H_DEVICE: device, H_TIME: t, H_NONCE: nonce, H_SIGNATURE: base64.b64encode(sig).decode()}


def public_key_b64(key: Ed25519PrivateKey) -> str:
    """The raw 32-byte public key, base64 (as sent at enrolment)."""
    return base64.b64encode(key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)).decode()


def load_public_key(b64: str) -> Ed25519PublicKey:
    """A public key from its base64 raw bytes; ValueError when it is not one."""
    try:
        raw = base64.b64decode(b64, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("public_key: base64 of the raw 32-byte Ed25519 key") from None
    if len(raw) != 32:
        raise ValueError("public_key: base64 of the raw 32-byte Ed25519 key")
    return Ed25519PublicKey.from_public_bytes(raw)


def signature_ok(key: Ed25519PublicKey, signature_b64: str, message: bytes) -> bool:
    """Whether `signature_b64` is the key's signature of `message`."""
    try:
        sig = base64.b64decode(signature_b64, validate=True)
        key.verify(sig, message)
    except (binascii.Error, ValueError, InvalidSignature):
        return False
    return True
