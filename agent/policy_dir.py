"""The policy the agent's proxy and backend run, on disk: `STATE/policy/current`, a symbolic link to
one folder under `STATE/policy/versions/`, each with its manifest beside it (`<folder>.json`).

A signed bundle is unpacked into a temporary folder (regular files only, no absolute or `..`
paths, size and file-count limits checked from the headers before any content is read), loaded
by the checker in a separate process, and only then renamed into `versions/` and the link
replaced with a rename (atomic: a reader sees the old folder or the new, never half). The
previous folders stay for checks still running on them; older ones are removed.

Before the first bundle arrives, the folder the agent was started with (`--policy`, or the
packaged policy) is copied in as a local version 0, so the children always run `current`.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from agent.state import write_private
from store.bundles import MAX_FILES, MAX_UNPACKED_BYTES

KEEP_PREVIOUS = 2          # earlier versions kept beside the current one
VALIDATE_SECONDS = 300.0   # how long the checker may take to load a bundle
_VALIDATE = ("import sys\nfrom checker import load_policy\n"
             "print(load_policy(sys.argv[1]).digest)\n")


class Refused(Exception):
    """A bundle this device will not run; the message says why (for the log and the heartbeat)."""


@dataclass(frozen=True)
class Installed:
    """The policy `current` points at."""

    version: int            # 0: the local folder the agent started with, not a signed bundle
    policy_digest: str
    sha256: str | None
    etag: str | None
    path: Path              # the version's folder (not the link)


def unpack(data: bytes, dest: Path) -> None:
    """Unpack a tar.gz into the empty folder `dest`, refusing anything but plain relative files."""
    total = count = 0
    try:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
            for m in tar:
                count += 1
                if count > MAX_FILES:
                    raise Refused(f"the bundle holds more than {MAX_FILES} entries")
                name = PurePosixPath(m.name)
                if name.is_absolute() or ".." in name.parts or "\\" in m.name or not name.parts:
                    raise Refused(f"the bundle names an unsafe path: {m.name[:100]!r}")
                if m.isdir():
                    continue
                if not m.isreg():
                    raise Refused(f"the bundle holds something other than a file: {m.name[:100]!r}")
                total += m.size
                if total > MAX_UNPACKED_BYTES:
                    raise Refused(f"the bundle unpacks to more than {MAX_UNPACKED_BYTES:,} bytes")
                src = tar.extractfile(m)
                assert src is not None
                target = dest.joinpath(*name.parts)
                target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
                content = src.read(m.size + 1)
                if len(content) != m.size:
                    raise Refused(f"the bundle is truncated at {m.name[:100]!r}")
                write_private(target, content)
    except (tarfile.TarError, EOFError, OSError, ValueError) as e:
        if isinstance(e, Refused):
            raise
        raise Refused(f"the bundle is not a readable tar.gz ({type(e).__name__})") from None


def validate(folder: Path) -> str:
    """The policy digest the checker computes for `folder`, loading every rule and model in a
    separate process (so a bad bundle costs this process nothing); Refused when it does not load."""
    try:
        r = subprocess.run([sys.executable, "-c", _VALIDATE, str(folder)], capture_output=True, text=True,
                           timeout=VALIDATE_SECONDS, env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"})
    except subprocess.TimeoutExpired:
        raise Refused(f"the policy did not load within {VALIDATE_SECONDS:.0f} s") from None
    if r.returncode != 0:
        last = (r.stderr.strip().splitlines() or ["no message"])[-1]
        raise Refused(f"the policy does not load: {last[:300]}")
    return r.stdout.strip().splitlines()[-1]


class PolicyDir:
    """`STATE/policy`: versions side by side and the `current` link."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.versions = root / "versions"
        self.current = root / "current"

    def installed(self) -> Installed | None:
        """What `current` points at, or None (no link yet, or its manifest is unreadable)."""
        try:
            target = self.current.resolve(strict=True)
            meta = json.loads(Path(f"{target}.json").read_text(encoding="utf-8"))
            return Installed(int(meta["version"]), str(meta["policy_digest"]), meta.get("sha256"),
                             meta.get("etag"), target)
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def _add(self, name: str, staged: Path, meta: dict[str, Any]) -> Installed:
        """Move a validated folder into versions/ (replacing one of the same name), then swap."""
        final = self.versions / name
        if final.exists():
            shutil.rmtree(final)
        os.replace(staged, final)
        write_private(Path(f"{final}.json"), (json.dumps(meta, indent=1, sort_keys=True) + "\n").encode())
        self._point_at(final)
        self._prune()
        got = self.installed()
        assert got is not None
        return got

    def _point_at(self, folder: Path) -> None:
        link = self.root / ".current.new"
        link.unlink(missing_ok=True)
        os.symlink(os.path.relpath(folder, self.root), link, target_is_directory=True)
        os.replace(link, self.current)

    def _stage(self) -> Path:
        self.root.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.versions.mkdir(mode=0o700, exist_ok=True)
        return Path(tempfile.mkdtemp(prefix=".staging-", dir=self.versions))

    def _prune(self) -> None:
        """Keep `current` and the KEEP_PREVIOUS newest others; remove failed staging folders."""
        keep = self.current.resolve()
        folders = sorted((p for p in self.versions.iterdir() if p.is_dir() and p != keep),
                         key=lambda p: p.stat().st_mtime, reverse=True)
        for p in folders:
            if p.name.startswith(".staging-") or p in folders[KEEP_PREVIOUS:]:
                shutil.rmtree(p, ignore_errors=True)
                Path(f"{p}.json").unlink(missing_ok=True)

    def seed(self, source: Path) -> Installed:
        """Make sure `current` exists: keep a signed bundle already installed; otherwise copy
        `source` in as local version 0 (again when the source changed)."""
        from checker import PolicyError, load_policy

        have = self.installed()
        if have is not None and have.version > 0:
            return have
        try:  # the folder the agent was started with is trusted: its files are checked, not its models
            digest = load_policy(source, checks=False).digest
        except (PolicyError, OSError) as e:
            raise Refused(f"{source}: {e}") from None
        if have is not None and have.policy_digest == digest:
            return have
        staged = self._stage()
        try:
            shutil.copytree(source, staged, dirs_exist_ok=True, ignore=shutil.ignore_patterns(".*", "__pycache__"))
        except (OSError, shutil.Error) as e:
            shutil.rmtree(staged, ignore_errors=True)
            raise Refused(f"{source}: cannot copy the policy folder: {e}") from None
        return self._add(f"local-{digest}", staged, {"version": 0, "policy_digest": digest, "source": str(source)})

    def install(self, manifest: dict[str, Any], data: bytes, etag: str | None) -> Installed:
        """Unpack, validate and swap in a bundle whose signature was checked; Refused otherwise
        (the current policy stays)."""
        staged = self._stage()
        try:
            unpack(data, staged)
            digest = validate(staged)
            if digest != manifest["policy_digest"]:
                raise Refused(f"the bundle's policy digest is {digest}, its manifest says {manifest['policy_digest']}")
        except BaseException:
            shutil.rmtree(staged, ignore_errors=True)
            raise
        meta = {"version": manifest["version"], "policy_digest": digest, "sha256": manifest["sha256"],
                "etag": etag, "created_at": manifest.get("created_at")}
        return self._add(f"v{manifest['version']}-{manifest['sha256'][:12]}", staged, meta)
