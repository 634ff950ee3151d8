"""Shared fixtures: the policy (loaded once), a recording log, and a backend config."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from checker import load_policy

sys.path.insert(0, str(Path(__file__).resolve().parent))
from pg_harness import RecordingLog


@pytest.fixture(scope="session")
def policy():
    """The Region 14 policy, loaded once per session."""
    return load_policy(None)


@pytest.fixture
def log() -> RecordingLog:
    """A fresh in-memory log."""
    return RecordingLog()
