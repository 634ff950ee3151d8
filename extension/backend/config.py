"""Backend settings: where it listens, who may call it, and how much it accepts."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from checker import Policy

# The id that the manifest's `key` pins (see docs/extension.md to derive your own).
EXTENSION_ID = "cfhkgcbpcbcjkgnkmbohmopdpfchpjla"
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8731
TOKEN_HEADER = "X-Postguard-Token"


@dataclass
class BackendConfig:
    """Everything `create_app` needs; tests build one directly."""

    policy: Policy
    token: str
    db: str | None = None
    store: Any = None  # an object with `append(Event)`; None -> store.open_store(db)
    extension_ids: tuple[str, ...] = (EXTENSION_ID,)
    port: int = 0  # 0 = any port in the Host header (tests bind a free port)
    max_body_bytes: int = 8 * 1024 * 1024  # base64 images make bodies large; text alone is <= 100k chars
    rate_per_second: float = 100.0
    rate_burst: int = 200
    # /v1/events records what a person chose (a few a minute): a budget of events and of bytes,
    # so a local process forging events fills the log at most this fast (then 429; the
    # extension keeps its queue and retries).
    events_per_second: float = 1.0
    events_burst: int = 200
    event_bytes_per_second: float = 64 * 1024
    event_bytes_burst: int = 8 * 1024 * 1024
    max_images: int = 10
    staff: str | None = None  # the device's assigned user (agent enroll --user): staff of events naming none
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def allowed_origins(self) -> frozenset[str]:
        """The exact Origin values accepted (one per allowed extension id)."""
        return frozenset(f"chrome-extension://{i}" for i in self.extension_ids)
