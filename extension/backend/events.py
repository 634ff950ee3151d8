"""Turning the employee's choice into an interception-log event (the same log as the proxy)."""

from __future__ import annotations

from typing import Any

# The employee's choice in the panel -> the log's action vocabulary (common.md).
ACTION_OF_CHOICE: dict[str, str] = {
    "edited": "edited",
    "overridden": "overridden",
    "cancelled": "cancelled",
    "posted-clean": "passed",
    "logged": "logged",
    "blocked": "blocked",
    "unchecked": "error",  # sent while the backend was down; checked now, on arrival
}


def make_event(**fields: Any) -> Any:
    """A `store.Event` with these fields (imported late so the backend starts without a store)."""
    from store import Event

    return Event(source="extension", **fields)


def open_log(db: str | None, policy: Any) -> Any:
    """The interception log for `db` (a SQLite path, a postgresql:// URL, or None = default);
    the policy sets what the log keeps of the text (none / redacted / full) and for how long."""
    from store import open_store

    return open_store(db, policy)
