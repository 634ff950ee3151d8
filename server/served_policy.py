"""The policy the server checks posts with on its extension API (/api/ext/v1/, browsers without an
agent): the newest published signed bundle, the one enrolled devices fetch, else the server's own
`--policy` until the first publish.

Every `policy_seconds` (30) the server looks at the newest bundle's version (one indexed row). A
newer one is read and checked as a device checks it (`agent.policy_sync.verify`: the manifest's
Ed25519 signature with the server's own key, the format, the bundle's SHA-256 and size), unpacked
under the device's rules (`agent.policy_dir.unpack`: plain relative files only, size and count
limits) into `policy_cache/vVERSION-SHA/SLUG/`, and loaded by the checker off the event loop; its
digest must be the one the manifest names. Just after the server starts, the extension API waits for
this first look (at most FIRST_LOOK_SECONDS), so it does not check with `--policy` while the
published bundle loads. Only then does it replace the policy in force (and the
extension API forgets its cached verdicts). A bundle that fails any of this is logged, written to the
server's own chain as a `policy-refused` event, and the policy in force stays; it is tried again
after RETRY_SECONDS or when a newer one is published.

The cache folder holds the roster (students.csv travels in the bundle): it is owner-only (0700,
files 0600) and emptied when the server starts.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import re
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agent.policy_dir import Refused, unpack
from agent.policy_sync import verify
from server.policy_bundle import BundleError, load_folder
from server.pool import DbPool
from store import bundles

if TYPE_CHECKING:
    from checker import Policy

log = logging.getLogger("postguard.server")
RETRY_SECONDS = 3600.0   # a bundle that failed here is tried again after this long (or a newer publish)
KEEP = 2                 # unpacked versions kept: the one in force and the one before (checks still on it)
FIRST_LOOK_SECONDS = 15.0  # just after start, how long a check waits for the first look at the newest bundle
_SLUG = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


@dataclass(frozen=True)
class Swap:
    """What one look at the newest bundle did (None from `refresh` when there was nothing to do)."""

    version: int
    policy_digest: str
    error: str | None = None   # why the bundle was not taken; None: it is in force now


class ServedPolicy:
    """The policy in force for the extension API, and the bundle version it came from (0: --policy)."""

    def __init__(self, fallback: Policy, public_key: str, cache: Path,
                 on_swap: Callable[[Swap], None] | None = None) -> None:
        self.policy = fallback
        self.version = 0
        self.public_key = public_key   # the server's own Ed25519 key (base64): devices pinned it
        self.cache = cache
        self.on_swap = on_swap
        self.failed: dict[int, float] = {}   # version -> when it last failed (monotonic)
        self.looked = asyncio.Event()        # set once the first look ended (whatever it found)
        self._lock = asyncio.Lock()

    async def in_force(self, wait: float = FIRST_LOOK_SECONDS) -> Policy:
        """The policy to check with; just after the server started, once the first look at the
        newest bundle has ended (at most `wait` seconds, then the policy in force so far)."""
        if not self.looked.is_set():
            try:
                await asyncio.wait_for(self.looked.wait(), wait)
            except TimeoutError:
                pass
        return self.policy

    def clear_cache(self) -> None:
        """Empty the cache folder (at start: what an earlier run unpacked is not in force)."""
        if self.cache.exists():
            shutil.rmtree(self.cache, ignore_errors=True)

    async def refresh(self, light: DbPool) -> Swap | None:
        """Take the newest bundle when it is newer than the one in force (see the module's doc)."""
        try:
            return await self._refresh(light)
        finally:
            self.looked.set()

    async def _refresh(self, light: DbPool) -> Swap | None:
        async with self._lock:
            meta = await light.run(bundles.latest)
            if meta is None or meta.version <= self.version:
                return None
            failed = self.failed.get(meta.version)
            if failed is not None and time.monotonic() - failed < RETRY_SECONDS:
                return None
            full = await light.run(lambda c: bundles.latest(c, with_data=True))
            if full is None or full.data is None or full.version <= self.version:
                return None
            try:
                policy = await asyncio.to_thread(self._load, full)
            except Refused as e:
                self.failed[full.version] = time.monotonic()
                log.error("policy bundle version %d not taken for the extension API (version %d stays): %s",
                          full.version, self.version, e)
                swap = Swap(full.version, full.policy_digest, str(e))
            else:
                self.policy, self.version = policy, full.version
                self.failed.pop(full.version, None)
                log.info("extension API: policy bundle version %d (digest %s) in force", full.version, policy.digest)
                swap = Swap(full.version, policy.digest)
            if self.on_swap is not None:
                self.on_swap(swap)
            return swap

    def _load(self, b: bundles.Bundle) -> Policy:
        """Verify, unpack and load one bundle (on a thread); Refused with the reason otherwise."""
        assert b.data is not None
        manifest, data = verify({"manifest": b.manifest, "signature": b.signature,
                                 "bundle": base64.b64encode(b.data).decode("ascii")}, self.public_key)
        if int(manifest["version"]) != b.version:
            raise Refused(f"the signed manifest names version {manifest['version']}, the row version {b.version}")
        slug = str(manifest.get("slug") or "")
        folder = self.cache / f"v{b.version}-{b.sha256[:12]}" / (slug if _SLUG.match(slug) else "policy")
        try:
            if folder.parent.exists():
                shutil.rmtree(folder.parent)
            self.cache.mkdir(mode=0o700, parents=True, exist_ok=True)
            folder.parent.mkdir(mode=0o700)
            folder.mkdir(mode=0o700)
        except OSError as e:
            raise Refused(f"cannot unpack it into {self.cache}: {e.strerror} (--policy-cache)") from None
        try:
            unpack(data, folder)
            try:
                policy = load_folder(folder)
            except BundleError as e:
                raise Refused(str(e)) from None
            if policy.digest != manifest["policy_digest"]:
                raise Refused(f"the bundle's policy digest is {policy.digest}, "
                              f"its manifest says {manifest['policy_digest']}")
        except BaseException:
            shutil.rmtree(folder.parent, ignore_errors=True)
            raise
        self._prune(keep=folder.parent)
        return policy

    def _prune(self, keep: Path) -> None:
        """Keep `keep` and the newest other version folder; remove the rest."""
        others = sorted((p for p in self.cache.iterdir() if p.is_dir() and p != keep),
                        key=_version_of, reverse=True)
        for p in others[KEEP - 1:]:
            shutil.rmtree(p, ignore_errors=True)

    def describe(self) -> dict[str, Any]:
        """For logs and tests: the version and digest in force."""
        return {"version": self.version, "policy_digest": self.policy.digest}


def _version_of(p: Path) -> int:
    head = p.name.partition("-")[0]
    return int(head[1:]) if head[:1] == "v" and head[1:].isdigit() else -1


def default_cache(signing_key: str | Path) -> Path:
    """`server-policy/` beside the server's signing key (var/ by default)."""
    return Path(signing_key).resolve().parent / "server-policy"
