"""`StoreConfig`: what the log keeps of a post and for how long, decided by whoever opens it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from store.event import CONTENT_MODES


@dataclass(frozen=True)
class StoreConfig:
    """The log's settings, built by the caller (usually from the policy's settings and its redaction).

    `content_mode`: none | redacted | full, how much of a post's text is kept. `retention_days`:
    events older than this are purged (0 keeps them). `redact`: replaces names and personal
    details in a text; needed unless everything is kept (`full`), since excerpts and
    justifications are masked with it in the other modes."""

    content_mode: str
    retention_days: int
    redact: Callable[[str], str] | None = None

    def __post_init__(self) -> None:
        if self.content_mode not in CONTENT_MODES:
            raise ValueError(f"content_mode: one of {', '.join(CONTENT_MODES)} (got {self.content_mode!r})")
        days = self.retention_days
        if not isinstance(days, int) or isinstance(days, bool) or days < 0:
            raise ValueError(f"retention_days: a whole number of days, 0 or more (got {days!r})")
        if self.redact is None and self.content_mode != "full":
            raise ValueError(f"content_mode {self.content_mode!r} needs a redact function")
