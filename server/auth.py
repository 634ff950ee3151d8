"""Checking a signed device request: known device, not revoked, fresh time, unused nonce, valid signature.

Public keys are cached (a device's key never changes; a revocation is final, so a cached
"revoked" never goes stale). A cached "not revoked" may lag a revocation made by another
process, which is why every write also checks revocation inside its own transaction.
Nonces are kept in memory for the clock window: after a restart a request replayed within
300 s is accepted once more, which is harmless (uploads are idempotent, heartbeats overwrite).
"""

from __future__ import annotations

import re
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from server.signing import (
    H_DEVICE,
    H_NONCE,
    H_SIGNATURE,
    H_TIME,
    load_public_key,
    signature_ok,
    signed_string,
)

WINDOW_SECONDS = 300
_NONCE = re.compile(r"^[0-9a-fA-F]{32,128}$")
_DEVICE = re.compile(r"^[a-z0-9.-]{1,64}$")
# device id -> (public key base64, revoked), or None when unknown
Lookup = Callable[[str], Awaitable[tuple[str, bool] | None]]


class Unauthorized(Exception):
    """A request refused with 401; `reason` is one of the documented machine-readable reasons."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass
class _Known:
    key: Ed25519PublicKey
    revoked: bool


class Verifier:
    """Verifies signed requests for one server process."""

    def __init__(self, lookup: Lookup, window: int = WINDOW_SECONDS,
                 clock: Callable[[], float] = time.time) -> None:
        self.lookup = lookup
        self.window = window
        self.clock = clock
        self._keys: dict[str, _Known] = {}
        self._nonces: dict[str, dict[str, float]] = {}

    async def check(self, method: str, path_qs: str, headers: Mapping[str, str], body: bytes) -> str:
        """The authenticated device id, or Unauthorized with the reason."""
        device, t, nonce, sig = (headers.get(h, "") for h in (H_DEVICE, H_TIME, H_NONCE, H_SIGNATURE))
        if not _DEVICE.match(device):
            raise Unauthorized("unknown-device")
        if not t.isdigit() or len(t) > 12 or not _NONCE.match(nonce) or not sig or len(sig) > 200:
            raise Unauthorized("bad-signature")
        now = self.clock()
        if abs(now - int(t)) > self.window:
            raise Unauthorized("stale")
        known = await self._known(device)
        if known.revoked:
            raise Unauthorized("revoked")
        if not signature_ok(known.key, sig, signed_string(method, path_qs, t, nonce, body)):
            raise Unauthorized("bad-signature")
        self._use_nonce(device, nonce.lower(), now)
        return device

    async def _known(self, device: str) -> _Known:
        known = self._keys.get(device)
        if known is None:
            found = await self.lookup(device)
            if found is None:
                raise Unauthorized("unknown-device")
            known = _Known(load_public_key(found[0]), found[1])
            self._keys[device] = known
        return known

    def revoked(self, device: str) -> None:
        """Note a revocation seen by this process (refused from now on without a lookup)."""
        if device in self._keys:
            self._keys[device].revoked = True

    def _use_nonce(self, device: str, nonce: str, now: float) -> None:
        seen = self._nonces.setdefault(device, {})
        if nonce in seen and seen[nonce] > now:
            raise Unauthorized("replay")
        if len(seen) > 256:  # forget what is outside the window (both edges of it)
            for n in [n for n, until in seen.items() if until <= now]:
                del seen[n]
        seen[nonce] = now + 2 * self.window
