"""The fleet test needs root (network namespaces) and PostgreSQL's binaries; without them it is
skipped with the reason printed at the end of the run, and in CI (CI=1) it fails instead."""

from __future__ import annotations

import os
import shutil
from typing import Any

import pytest
from fleet_harness import pg_bin


def fleet_missing() -> str | None:
    """Why the fleet test cannot run here, or None."""
    if os.geteuid() != 0:
        return "needs root for network namespaces (ip netns + veth); CI runs it as root"
    if not shutil.which("ip") or not shutil.which("runuser"):
        return "needs the ip and runuser commands"
    if pg_bin() is None:
        return "needs PostgreSQL's initdb and pg_ctl in /usr/lib/postgresql/*/bin"
    return None


@pytest.fixture
def fleet_ok() -> None:
    """Skip (or in CI fail) when the fleet test cannot run on this machine."""
    why = fleet_missing()
    if why is None:
        return
    if os.environ.get("CI"):
        pytest.fail(f"fleet test required in CI: {why}")
    pytest.skip(why)


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Print why a fleet test was skipped, even without -rs."""
    for rep in terminalreporter.stats.get("skipped", []):
        if "tests/fleet/" in rep.nodeid:
            reason = rep.longrepr[2] if isinstance(rep.longrepr, tuple) else str(rep.longrepr)
            terminalreporter.write_line(f"SKIPPED {rep.nodeid}: {reason}", yellow=True)
