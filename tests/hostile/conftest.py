"""Fixtures for the hostile-input tests: the policy, a recording log, flows (the proxy tests' own)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from typing import Any

import pytest

from checker import Policy, load_policy

sys.path.insert(0, str(Path(__file__).resolve().parent))  # gen.py

_spec = importlib.util.spec_from_file_location("pg_proxy_conftest", Path(__file__).resolve().parents[1] / "proxy"
                                               / "conftest.py")
assert _spec is not None and _spec.loader is not None
_proxy = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_proxy)


@pytest.fixture(scope="session")
def policy() -> Policy:
    """The default Region 14 policy, loaded once."""
    return load_policy(None)


@pytest.fixture
def rec() -> Any:
    """A log that keeps the events in a list."""
    return _proxy.RecordingStore()


@pytest.fixture
def mkflow() -> Any:
    """A live mitmproxy flow with given wire bytes."""
    return _proxy.make_flow
