"""What the agent refuses in a policy bundle before it runs it: a signature that is missing or not the
pinned key's, bytes that are not the ones the signed manifest names, and a tar.gz that names an
unsafe path, holds anything but files, or is too large; a refused install leaves `current` as it
was and nothing half-written beside it."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import tarfile
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

import agent.policy_dir as pdir
from agent.policy_dir import PolicyDir, Refused, unpack
from agent.policy_sync import verify
from checker import DEFAULT_POLICY_DIR
from server.checkpoint import canonical
from server.policy_bundle import manifest, pack
from server.signing import public_key_b64
from store.bundles import FORMAT


def signed(key: Ed25519PrivateKey, data: bytes, version: int = 1, digest: str = "0" * 16) -> dict[str, str]:
    text = canonical(manifest(version, data, digest, "region14", key))
    return {"manifest": text, "signature": base64.b64encode(key.sign(text.encode())).decode(),
            "bundle": base64.b64encode(data).decode()}


def tar_of(*members: tuple[tarfile.TarInfo, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for info, data in members:
            tar.addfile(info, io.BytesIO(data) if info.isreg() else None)
    return buf.getvalue()


def member(name: str, data: bytes = b"x", kind: bytes = tarfile.REGTYPE, link: str = "") -> tuple[tarfile.TarInfo, bytes]:
    info = tarfile.TarInfo(name)
    info.type, info.size, info.linkname = kind, len(data) if kind == tarfile.REGTYPE else 0, link
    return info, data


def test_verify_takes_only_the_pinned_keys_signature_over_the_named_bytes() -> None:
    key, other = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()
    data = pack(DEFAULT_POLICY_DIR)
    body = signed(key, data)
    m, got = verify(body, public_key_b64(key))
    assert got == data and m["format"] == FORMAT and m["sha256"] == hashlib.sha256(data).hexdigest()
    with pytest.raises(Refused, match="bad signature"):
        verify(body, public_key_b64(other))
    with pytest.raises(Refused, match="unsigned"):
        verify({"bundle": body["bundle"]}, public_key_b64(key))
    tampered = {**body, "bundle": base64.b64encode(data[:-1] + bytes([data[-1] ^ 1])).decode()}
    with pytest.raises(Refused, match="tampered"):
        verify(tampered, public_key_b64(key))
    edited = {**body, "manifest": body["manifest"].replace('"version":1', '"version":9')}
    with pytest.raises(Refused, match="bad signature"):
        verify(edited, public_key_b64(key))
    assert json.loads(body["manifest"])["version"] == 1


@pytest.mark.parametrize("members,reason", [
    ((member("../outside.toml"),), "unsafe path"),
    ((member("/etc/cron.d/x"),), "unsafe path"),
    ((member("lexicons\\..\\..\\x"),), "unsafe path"),
    ((member("lexicons/link", kind=tarfile.SYMTYPE, link="/etc/passwd"),), "other than a file"),
    ((member("hard", kind=tarfile.LNKTYPE, link="district.toml"),), "other than a file"),
    ((member("fifo", kind=tarfile.FIFOTYPE),), "other than a file"),
])
def test_unpack_refuses_what_is_not_a_plain_relative_file(tmp_path: Path, members, reason) -> None:
    dest = tmp_path / "dest"
    dest.mkdir()
    with pytest.raises(Refused, match=reason):
        unpack(tar_of(*members), dest)
    assert not (tmp_path / "outside.toml").exists()


def test_unpack_limits_size_and_count_and_garbage(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pdir, "MAX_UNPACKED_BYTES", 1000)
    with pytest.raises(Refused, match="more than 1,000 bytes"):
        unpack(tar_of(member("a", b"x" * 600), member("b", b"y" * 600)), tmp_path)
    monkeypatch.setattr(pdir, "MAX_FILES", 3)
    with pytest.raises(Refused, match="more than 3 entries"):
        unpack(tar_of(*(member(f"f{i}") for i in range(4))), tmp_path)
    with pytest.raises(Refused, match="not a readable tar.gz"):
        unpack(b"\x1f\x8b not really gzip", tmp_path)


def test_refused_install_leaves_current_and_nothing_beside_it(tmp_path: Path) -> None:
    folder = PolicyDir(tmp_path / "policy")
    before = folder.seed(DEFAULT_POLICY_DIR)
    data = pack(DEFAULT_POLICY_DIR)
    m = json.loads(signed(Ed25519PrivateKey.generate(), data, version=1, digest="f" * 16)["manifest"])
    with pytest.raises(Refused, match="manifest says ffff"):
        folder.install(m, data, '"v1-x"')
    assert folder.installed() == before
    assert sorted(p.name for p in folder.versions.iterdir()) == [before.path.name, f"{before.path.name}.json"]
    m["policy_digest"] = before.policy_digest
    got = folder.install(m, data, '"v1-x"')
    assert got.version == 1 and folder.current.resolve() == got.path and got.policy_digest == before.policy_digest
    assert (got.path / "students.csv").stat().st_mode & 0o077 == 0  # the roster: owner-only
