"""Signed policy updates: at start and every interval the agent asks the server for the newest
policy bundle with a conditional GET (If-None-Match: the installed bundle's ETag; 304 when
nothing changed), checks the manifest's Ed25519 signature with the server key pinned at
enrolment, the bundle's SHA-256 and size and that its version is newer than the one installed,
then hands it to `PolicyDir.install` (unpack, load with the checker, swap `current`).

The proxy and the backend follow `current` on their own (they look at where the link points
every few seconds) and swap their policy without a restart. A bundle that is refused leaves the
last good policy in place; the refusal is a `policy-refused` event in the device's chain and is
reported with every heartbeat until a good bundle is installed.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import json
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import aiohttp
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from agent.client import DeviceAPI, network_error, signature_headers
from agent.policy_dir import Installed, PolicyDir, Refused
from store.bundles import FORMAT, MAX_BUNDLE_BYTES

log = logging.getLogger("postguard.agent")
POLICY = "/api/v1/policy"
DEFAULT_EVERY = 300.0        # seconds between fetches
RETRY_REFUSED = 3600.0       # a refused bundle (same ETag) is looked at again after this long
MAX_REPLY = MAX_BUNDLE_BYTES * 4 // 3 + (64 << 10)


def verify(body: dict[str, Any], pinned_key: str) -> tuple[dict[str, Any], bytes]:
    """The signed manifest and the bundle's bytes; Refused when the signature is not the pinned
    key's, or the bytes are not the ones the manifest names."""
    manifest_text, sig, packed = body.get("manifest"), body.get("signature"), body.get("bundle")
    if not (isinstance(manifest_text, str) and isinstance(sig, str) and isinstance(packed, str)):
        raise Refused("unsigned: the reply has no manifest, signature and bundle")
    try:
        key = Ed25519PublicKey.from_public_bytes(base64.b64decode(pinned_key, validate=True))
        key.verify(base64.b64decode(sig, validate=True), manifest_text.encode())
    except (binascii.Error, ValueError, InvalidSignature):
        raise Refused("bad signature: the manifest is not signed by the server key pinned at enrolment") from None
    try:
        manifest = json.loads(manifest_text)
        data = base64.b64decode(packed, validate=True)
        version, sha, size = int(manifest["version"]), str(manifest["sha256"]), int(manifest["size"])
        str(manifest["policy_digest"])
    except (ValueError, KeyError, TypeError, binascii.Error):
        raise Refused("the signed manifest is malformed") from None
    if manifest.get("format") != FORMAT:
        raise Refused(f"unknown bundle format {str(manifest.get('format'))[:40]!r}")
    if version < 1 or len(data) != size or hashlib.sha256(data).hexdigest() != sha:
        raise Refused("tampered: the bundle's bytes are not the ones its signed manifest names")
    return manifest, data


@dataclass
class SyncState:
    """What the last fetch did (status.json, heartbeat)."""

    version: int = 0
    policy_digest: str | None = None
    last_check_at: float | None = None
    last_change_at: float | None = None
    error: str | None = None        # the server could not be asked
    refused: str | None = None      # why the newest bundle was refused (None once a good one is in)
    refused_etag: str | None = None
    refused_at: float | None = None

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


class PolicySync:
    """Fetches, checks and installs the server's policy bundle."""

    def __init__(self, api: DeviceAPI, folder: PolicyDir, pinned_key: str | None, *,
                 on_installed: Callable[[Installed], Awaitable[None]],
                 on_refused: Callable[[str], Awaitable[None]], every: float = DEFAULT_EVERY) -> None:
        self.api, self.folder, self.key = api, folder, pinned_key
        self.on_installed, self.on_refused = on_installed, on_refused
        self.every = every
        have = folder.installed()
        self.state = SyncState(version=have.version if have else 0,
                               policy_digest=have.policy_digest if have else None)
        self.etag = have.etag if have else None

    async def _get(self) -> tuple[int, dict[str, Any], str | None]:
        """One signed conditional GET: status, JSON body ({} for 304/none) and ETag."""
        headers = signature_headers(self.api.key, self.api.device_id, "GET", POLICY, b"", self.api.now())
        if self.etag:
            headers["If-None-Match"] = self.etag
        async with self.api.session.get(self.api.base + POLICY, headers=headers, ssl=self.api.ssl,
                                        timeout=self.api.timeout) as r:
            if r.status != 200:
                return r.status, {}, r.headers.get("ETag")
            raw = await r.content.read(MAX_REPLY + 1)
            if len(raw) > MAX_REPLY:
                raise Refused(f"the reply is larger than {MAX_REPLY:,} bytes")
            try:
                body = json.loads(raw)
            except ValueError:
                raise Refused("the reply is not JSON") from None
            return 200, body if isinstance(body, dict) else {}, r.headers.get("ETag")

    async def check(self) -> bool:
        """Ask once; True when a new bundle was installed."""
        self.state.last_check_at = time.time()
        if not self.key:
            self.state.error = "no server key pinned at enrolment (enrol again to receive signed policies)"
            return False
        try:
            status, body, etag = await self._get()
        except (TimeoutError, aiohttp.ClientError, OSError) as e:
            self.state.error = f"server unreachable: {network_error(e)}"
            return False
        except Refused as e:
            await self._refuse(str(e), None)
            return False
        self.state.error = None
        if status in (304, 404):
            return False
        if status != 200:
            self.state.error = f"server answered {status}"
            return False
        if etag and etag == self.state.refused_etag and time.time() - (self.state.refused_at or 0) < RETRY_REFUSED:
            return False
        try:
            manifest, data = verify(body, self.key)
            if int(manifest["version"]) <= self.state.version:
                raise Refused(f"rollback: version {manifest['version']} is not newer than the installed "
                              f"version {self.state.version}")
            got = await asyncio.to_thread(self.folder.install, manifest, data, etag)
        except Refused as e:
            await self._refuse(str(e), etag)
            return False
        self.etag = etag
        self.state.version, self.state.policy_digest = got.version, got.policy_digest
        self.state.last_change_at, self.state.refused = time.time(), None
        self.state.refused_etag = self.state.refused_at = None
        log.info("policy: installed version %d (digest %s)", got.version, got.policy_digest)
        await self.on_installed(got)
        return True

    async def _refuse(self, reason: str, etag: str | None) -> None:
        log.warning("policy: bundle refused, keeping version %d: %s", self.state.version, reason)
        self.state.refused, self.state.refused_etag, self.state.refused_at = reason, etag, time.time()
        await self.on_refused(reason)

    async def run(self, stop: asyncio.Event) -> None:
        """Check now, then every interval, until `stop` is set."""
        while not stop.is_set():
            try:
                await self.check()
            except Exception:
                log.exception("policy check failed")
            try:
                await asyncio.wait_for(stop.wait(), self.every)
            except TimeoutError:
                pass
