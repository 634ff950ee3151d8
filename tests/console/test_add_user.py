"""`postguard console add-user`: argon2 hashes, roles, passwords from stdin only."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest

from console.auth import check_password
from postguard.cli import main
from store import StoreConfig, open_store


def add(monkeypatch: pytest.MonkeyPatch, db: Path, *argv: str, stdin: str = "") -> int:
    monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    return main(["console", "add-user", *argv, "--db", str(db)])


def test_add_user_hashes_the_password(monkeypatch: Any, tmp_path: Path, config: StoreConfig, capsys: Any) -> None:
    db = tmp_path / "log.sqlite"
    assert add(monkeypatch, db, "it.lead", "--role", "admin", "--password-stdin", stdin="a long passphrase\n") == 0
    assert "created admin it.lead" in capsys.readouterr().out
    with open_store(str(db), config) as st:
        (row,) = st.read(lambda c: c.all("SELECT name, role, pw_hash FROM users"))
        assert row["pw_hash"].startswith("$argon2id$") and "passphrase" not in row["pw_hash"]
        assert check_password(st, "it.lead", "a long passphrase") == "admin"
        assert check_password(st, "it.lead", "a long passphrase ") is None
    # Running it again resets the role and password.
    assert add(monkeypatch, db, "it.lead", "--role", "reviewer", "--password-stdin", stdin="another passphrase\n") == 0
    with open_store(str(db), config) as st:
        assert check_password(st, "it.lead", "another passphrase") == "reviewer"
        assert check_password(st, "it.lead", "a long passphrase") is None


@pytest.mark.parametrize("argv, stdin, message", [
    (["x", "--role", "admin", "--password-stdin"], "short\n", "at least 10"),
    (["bad name", "--role", "admin", "--password-stdin"], "long enough pass\n", "user name"),
    (["x", "--role", "admin"], "", "--password-stdin"),  # no terminal to prompt on
])
def test_add_user_refuses(monkeypatch: Any, tmp_path: Path, capsys: Any, argv: list[str], stdin: str,
                          message: str) -> None:
    assert add(monkeypatch, tmp_path / "log.sqlite", *argv, stdin=stdin) == 2
    assert message in capsys.readouterr().err


def test_role_must_be_known(monkeypatch: Any, tmp_path: Path) -> None:
    with pytest.raises(SystemExit):
        add(monkeypatch, tmp_path / "log.sqlite", "x", "--role", "root", "--password-stdin", stdin="long enough pass\n")
