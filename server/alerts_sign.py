"""The webhook's signature, as Stripe and GitHub sign theirs: `Postguard-Signature: t=UNIX,v1=HEX`
where HEX is HMAC-SHA256(secret, "UNIX." + body). The time is inside the signed text, so a
receiver that checks it (within `tolerance` seconds) refuses a replayed old delivery."""

from __future__ import annotations

import hashlib
import hmac
import time

SIGNATURE_HEADER = "Postguard-Signature"
TOLERANCE_SECONDS = 300


def sign(secret: str, body: bytes, t: int) -> str:
    """The header value for `body` sent at unix time `t`."""
    mac = hmac.new(secret.encode("utf-8"), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={t},v1={mac}"


def verify(secret: str, header: str, body: bytes, now: float | None = None,
           tolerance: int = TOLERANCE_SECONDS) -> bool:
    """Whether `header` signs `body` with `secret` at a time within `tolerance` of `now` (for a
    receiver; several v1= values are accepted, so a secret can be rotated)."""
    t, macs = None, []
    for part in header.split(","):
        k, _, v = part.strip().partition("=")
        if k == "t" and v.isdigit():
            t = int(v)
        elif k == "v1":
            macs.append(v)
    if t is None or not macs:
        return False
    if abs((time.time() if now is None else now) - t) > tolerance:
        return False
    want = sign(secret, body, t).split("v1=", 1)[1]
    return any(hmac.compare_digest(want, m) for m in macs)
