"""Fixtures for the fault tests: a district rule that raises or hangs on a marker, installed for
the subprocess as a real `postguard.rules` entry point; a policy folder that turns it on; live
`postguard proxy` processes (tests/proxy's harness)."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from faults_helpers import FAULT_RULE, proxy

from checker.policy import DEFAULT_POLICY_DIR


@pytest.fixture(scope="session")
def fault_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """The environment of a subprocess in which `fault-probe` is a `postguard.rules` entry point."""
    d = tmp_path_factory.mktemp("faultrule")
    (d / "postguard_fault_probe.py").write_text(FAULT_RULE, encoding="utf-8")
    info = d / "postguard_fault_probe-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: postguard-fault-probe\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[postguard.rules]\nfault-probe = postguard_fault_probe:FaultProbe\n")
    return {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(d), os.environ.get("PYTHONPATH")]))}


@pytest.fixture(scope="session")
def fault_policy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The default policy with the fault probe on."""
    d = tmp_path_factory.mktemp("faultpolicy") / "region14"
    shutil.copytree(DEFAULT_POLICY_DIR, d)
    with open(d / "rules.toml", "a", encoding="utf-8") as f:
        f.write('\n[rules.fault-probe]\nclauses = { personal = "P9", sponsored = "D4" }\naction = "block"\n'
                'message = "Fault probe (tests only)."\n')
    return d


@pytest.fixture
def live_with(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """Start `postguard proxy` (tests/proxy's Live) with an environment, policy and options."""
    started: list[Any] = []

    def start(env: dict[str, str] | None = None, **kw: Any) -> Any:
        for k, v in (env or {}).items():
            monkeypatch.setenv(k, v)
        sub = Path(tempfile.mkdtemp(prefix="live", dir=tmp_path))
        lv = proxy.Live(sub, proxy.payload_hosts(), **kw)
        started.append(lv)
        return lv

    def stop(lv: Any) -> None:
        if lv in started:
            started.remove(lv)
            lv.stop()

    start.stop = stop  # type: ignore[attr-defined]
    yield start
    for lv in list(started):
        stop(lv)
