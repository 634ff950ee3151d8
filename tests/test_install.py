"""Cheap invariants of the install (issue 17: "an install that holds"); no network, no pip.

The locks are written by `make lock` (pip-compile --generate-hashes); these tests only read
them, pyproject.toml, the Makefile and .ci/run.
"""

from __future__ import annotations

import fnmatch
import re
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
LOCKS = ["requirements.lock", "requirements-dev.lock", "requirements-train.lock",
         "tools/lock/pip-tools.lock"]
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)((?:\s+--hash=sha256:[0-9a-f]{64})+)$")
NEVER_AT_RUN_TIME = {"pytest", "pytest-asyncio", "pytest-aiohttp", "playwright", "ruff", "mypy",
                     "pip-tools"}


def _entries(name: str) -> list[str]:
    """The requirement entries of a lock: comments dropped, backslash continuations joined."""
    text = (ROOT / name).read_text(encoding="utf-8")
    lines = [line.split(" #")[0].rstrip() for line in text.splitlines()
             if not line.lstrip().startswith("#")]
    return [" ".join(e.split()) for e in "\n".join(lines).replace("\\\n", " ").splitlines()
            if e.strip()]


def _pins(name: str) -> dict[str, Version]:
    out: dict[str, Version] = {}
    for entry in _entries(name):
        m = PIN.match(entry)
        assert m, f"{name}: not a hash-pinned requirement: {entry[:120]!r}"
        key = canonicalize_name(m.group(1))
        assert key not in out, f"{name}: {key} pinned twice"
        out[key] = Version(m.group(2))
    return out


@pytest.mark.parametrize("name", LOCKS)
def test_every_lock_entry_is_pinned_with_hashes(name: str) -> None:
    pins = _pins(name)
    assert pins, f"{name} pins nothing"
    # pip's own version is the fresh venv's: a lock that pins pip would upgrade it.
    assert "pip" not in pins, f"{name} pins pip"


def _check_covers(lock: str, requirements: list[str]) -> None:
    pins = _pins(lock)
    for text in requirements:
        req = Requirement(text)
        key = canonicalize_name(req.name)
        assert key in pins, f"{text!r} from pyproject.toml is not in {lock}"
        assert req.specifier.contains(pins[key], prereleases=True), \
            f"{lock} pins {key}=={pins[key]}, outside pyproject.toml's {text!r}"


def test_run_time_lock_covers_project_dependencies() -> None:
    _check_covers("requirements.lock", PYPROJECT["project"]["dependencies"])


def test_dev_lock_covers_dev_extra_and_mypy_is_in_it() -> None:
    dev = PYPROJECT["project"]["optional-dependencies"]["dev"]
    assert "mypy" in {canonicalize_name(Requirement(r).name) for r in dev}
    _check_covers("requirements-dev.lock", dev)


def test_train_lock_covers_train_extra() -> None:
    _check_covers("requirements-train.lock", PYPROJECT["project"]["optional-dependencies"]["train"])


def test_services_carry_no_test_or_lint_tools() -> None:
    found = NEVER_AT_RUN_TIME & set(_pins("requirements.lock"))
    assert not found, f"requirements.lock carries {sorted(found)}"


@pytest.mark.parametrize("name", ["requirements-dev.lock", "requirements-train.lock"])
def test_other_locks_keep_the_run_time_pins(name: str) -> None:
    run, other = _pins("requirements.lock"), _pins(name)
    missing = sorted(set(run) - set(other))
    assert not missing, f"{name} lacks run-time packages {missing}"
    differ = {k: (str(run[k]), str(other[k])) for k in run if other[k] != run[k]}
    assert not differ, f"{name} pins run-time packages differently: {differ}"


def test_lock_keeps_h11_where_mitmproxy_wants_it() -> None:
    # FIELD-NOTES "Installing": huggingface-hub 2.x drags in h11>=0.16; mitmproxy 11.0.2 pins <=0.14.
    pins = _pins("requirements.lock")
    assert pins["mitmproxy"] == Version("11.0.2")
    assert pins["h11"] <= Version("0.14.0")
    assert pins["huggingface-hub"] < Version("2")


def _recipe(makefile: str, target: str) -> str:
    m = re.search(rf"^{re.escape(target)}:[^\n]*\n((?:\t[^\n]*\n)+)", makefile, re.M)
    assert m, f"Makefile has no {target} rule with a recipe"
    return m.group(1)


def test_makefile_installs_from_the_locks_with_hashes_and_keeps_pip() -> None:
    mk = (ROOT / "Makefile").read_text(encoding="utf-8")
    assert re.search(r"^LOCKS\s*:=.*requirements\.lock.*requirements-dev\.lock", mk, re.M)
    assert re.search(r"^STAMP\s*:=.*\$\(LOCKS\)", mk, re.M), "the stamp must be keyed on the locks"
    recipe = _recipe(mk, "$(STAMP)")
    assert re.search(r"pip install .*--require-hashes -r requirements\.lock -r requirements-dev\.lock",
                     recipe)
    assert "pip install -q --no-deps -e ." in recipe
    assert not re.search(r"(--upgrade|-U)\b[^\n]*\bpip\b", mk), "the Makefile must not upgrade pip"
    assert "pip-compile" in mk and "--generate-hashes" in mk
    _recipe(mk, "lock")


def test_ci_proves_the_lock_on_a_fresh_venv_before_make_test() -> None:
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    lock = ci.index("--require-hashes -r requirements.lock")
    assert lock < ci.index("pip\" install -q --no-deps .") < ci.index("\nmake test")
    assert "-m venv" in ci and not re.search(r"(--upgrade|-U)\b[^\n]*\bpip\b", ci)


def test_package_data_patterns_cover_the_data_the_wheel_must_carry() -> None:
    # The default policy, the models and the extension must be in a non-editable install.
    setuptools = PYPROJECT["tool"]["setuptools"]
    include = setuptools["packages"]["find"]["include"]
    assert setuptools["packages"]["find"].get("namespaces", True), "data folders are namespace packages"
    patterns = setuptools["package-data"]["*"]
    for folder in ("policies", "checker/models", "extension/webext"):
        assert any(fnmatch.fnmatch(folder.replace("/", "."), p) for p in include), folder
        for path in (ROOT / folder).rglob("*"):
            if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".py":
                assert any(fnmatch.fnmatch(path.name, p) for p in patterns), \
                    f"{path.relative_to(ROOT)} would be left out of the wheel"
