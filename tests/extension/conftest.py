"""Shared fixtures: the policy (loaded once), a recording log, and a backend config."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from checker import load_policy


class RecordingLog:
    """Stands in for the interception log: keeps every appended event in memory."""

    def __init__(self) -> None:
        self.events: list[Any] = []
        self.lock = threading.Lock()

    def append(self, event: Any) -> str:
        """Record `event`; return an id like the store does."""
        with self.lock:
            self.events.append(event)
            return f"ev{len(self.events)}"

    def close(self) -> None:
        """Nothing to release."""


@pytest.fixture(scope="session")
def policy():
    """The Region 14 policy, loaded once per session."""
    return load_policy(None)


@pytest.fixture
def log() -> RecordingLog:
    """A fresh in-memory log."""
    return RecordingLog()
