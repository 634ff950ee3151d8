"""Issue 16, the small findings: unbounded image reads, a deep HAR, the admin password file's mode."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from postguard.cli import main


def test_check_image_from_a_device_is_bounded(capsys: pytest.CaptureFixture[str]) -> None:
    # /dev/zero has no size to look at: the read itself must stop at the limit
    assert main(["check", "hello", "--image", "/dev/zero"]) == 2
    err = capsys.readouterr().err
    assert "/dev/zero: image larger than 20,971,520 bytes" in err


def test_eval_cases_from_a_device_are_bounded(capsys: pytest.CaptureFixture[str]) -> None:
    # the same for every file a command reads whole (eval's cases file here)
    assert main(["eval", "/dev/zero"]) == 2
    err = capsys.readouterr().err
    assert "/dev/zero: larger than" in err and "bytes" in err


def test_replay_of_a_very_deep_har_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    p = tmp_path / "deep.har"
    p.write_text('{"log": {"entries": ' + "[" * 200_000 + "]" * 200_000 + "}}")
    assert main(["replay", str(p)]) == 2
    err = capsys.readouterr().err
    assert "nested too deeply" in err and "internal error" not in err and "RecursionError" not in err


def test_admin_password_file_is_owner_only_from_the_start(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from checker import load_policy
    from enforce import log_config
    from postguard.commands.server import first_admin

    def policy_for_test():  # type: ignore[no-untyped-def]
        return load_policy(None)

    opened: list[tuple[str, int]] = []
    real_open = os.open

    def spy(path, flags, mode=0o777, *a, **kw):  # type: ignore[no-untyped-def]
        if str(path).endswith("console-admin.txt"):
            opened.append((str(path), mode))
        return real_open(path, flags, mode, *a, **kw)

    monkeypatch.setattr(os, "open", spy)
    old = os.umask(0)  # even with a permissive umask
    try:
        (tmp_path / "var").mkdir()
        (tmp_path / "var" / "console-admin.txt").write_text("left over\n")
        os.chmod(tmp_path / "var" / "console-admin.txt", 0o644)  # and a world-readable file already there
        msg = first_admin(str(tmp_path / "log.sqlite"), log_config(policy_for_test()), tmp_path / "var")
    finally:
        os.umask(old)
    path = tmp_path / "var" / "console-admin.txt"
    assert msg and opened and all(mode == 0o600 for _, mode in opened)
    assert path.stat().st_mode & 0o777 == 0o600
    assert path.read_text().startswith("user: admin\npassword: ")
    assert json.dumps(msg)  # the message names the file, not the password
    assert path.read_text().split("password: ")[1].strip() not in msg
