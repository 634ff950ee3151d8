"""The state folder: the key owner-only and refused when others can read it, files written
atomically, enrolment that keeps nothing half-done, and clear errors."""

from __future__ import annotations

import asyncio
import os
import stat
from pathlib import Path

import pytest
from agent_helpers import Running

from agent.enroll import enroll_device
from agent.state import StateDir, StateError, default_state_dir, new_key, write_private


def mode(p: Path) -> int:
    return stat.S_IMODE(p.stat().st_mode)


def test_the_key_is_owner_only_and_loads_back(tmp_path: Path) -> None:
    s = StateDir(tmp_path / "state")
    s.ensure()
    key = new_key()
    s.save_key(key)
    assert mode(s.root) == 0o700 and mode(s.key_file) == 0o600
    assert s.load_key().public_key().public_bytes_raw() == key.public_key().public_bytes_raw()


@pytest.mark.parametrize("bad_mode", [0o644, 0o640, 0o604])
def test_a_key_others_can_read_is_refused(tmp_path: Path, bad_mode: int) -> None:
    s = StateDir(tmp_path)
    s.save_key(new_key())
    os.chmod(s.key_file, bad_mode)
    with pytest.raises(StateError, match="readable by others"):
        s.load_key()


@pytest.mark.parametrize(("content", "words"), [(b"not a key", "not a PEM private key"),
                                                (b"", "not a PEM private key")])
def test_a_broken_key_file_is_named(tmp_path: Path, content: bytes, words: str) -> None:
    s = StateDir(tmp_path)
    write_private(s.key_file, content)
    with pytest.raises(StateError, match=words):
        s.load_key()


def test_missing_or_damaged_device_files_say_what_to_do(tmp_path: Path) -> None:
    s = StateDir(tmp_path)
    with pytest.raises(StateError, match="not enrolled.*postguard agent enroll"):
        s.load_device()
    with pytest.raises(StateError, match="not enrolled"):
        s.load_key()
    write_private(s.device_file, b"{")
    with pytest.raises(StateError, match="unreadable"):
        s.load_device()
    write_private(s.device_file, b'{"server": "x"}')
    with pytest.raises(StateError, match="not a device file"):
        s.load_device()


def test_write_private_replaces_atomically(tmp_path: Path) -> None:
    p = tmp_path / "f.json"
    write_private(p, b"one")
    write_private(p, b"two")
    assert p.read_bytes() == b"two" and mode(p) == 0o600
    assert [x.name for x in tmp_path.iterdir()] == ["f.json"]  # no temporary file left


def test_the_default_folder(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POSTGUARD_AGENT_STATE", "/srv/pg-agent")
    assert default_state_dir() == Path("/srv/pg-agent")
    monkeypatch.delenv("POSTGUARD_AGENT_STATE")
    assert default_state_dir() == (Path("/var/lib/postguard") if os.geteuid() == 0 else Path("var/agent"))


async def test_enrolment_writes_the_device_and_refuses_a_second_without_force(server: Running, tmp_path: Path) -> None:
    s = StateDir(tmp_path / "agent")
    code, code2 = server.codes(2)
    d = await asyncio.to_thread(enroll_device, s, server.url + "/", code, version="test", hostname="pc-library-2")
    assert d.device_id.startswith("pc-library-2-") and d.server == server.url and d.heartbeat_interval == 60
    assert s.load_device() == d and mode(s.key_file) == 0o600 and not (s.root / "device.key.new").exists()
    pub = server.query("SELECT public_key FROM devices WHERE id = ?", (d.device_id,))[0]["public_key"]
    from agent.client import public_key_b64

    assert pub == public_key_b64(s.load_key())
    with pytest.raises(StateError, match="already enrolled as " + d.device_id):
        await asyncio.to_thread(enroll_device, s, server.url, code2, version="test")
    with pytest.raises(StateError, match="refused the code"):  # a used code
        await asyncio.to_thread(enroll_device, s, server.url, code, version="test", force=True)
    assert s.load_device() == d  # a failed enrolment leaves the old one in place
    d2 = await asyncio.to_thread(enroll_device, s, server.url, code2, version="test", force=True)
    assert d2.device_id != d.device_id


async def test_an_unreachable_server_spends_no_code_and_leaves_no_key(tmp_path: Path) -> None:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    s = StateDir(tmp_path / "agent")
    with pytest.raises(StateError, match=f"cannot reach http://127.0.0.1:{port}: cannot connect"):
        await asyncio.to_thread(enroll_device, s, f"http://127.0.0.1:{port}", "AAAAA", version="test")
    assert not s.key_file.exists() and not (s.root / "device.key.new").exists()
