"""`ConsoleConfig`: where the log is, which policy to quote, and session settings."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from store import Store

if TYPE_CHECKING:
    from checker import Policy


@dataclass
class ConsoleConfig:
    """Where the log is, which policy to quote, and session settings."""

    db: str
    policy_dir: str | None = None
    policy: Policy | None = None  # an already loaded policy (wins over policy_dir)
    # Where the policy in force is read from at each use (the district server: its newest
    # published bundle); without it, the loaded policy for good.
    policy_source: Callable[[], Policy] | None = None
    store: Store | None = None    # an already open store (the caller closes it)
    page_size: int = 50
    session_hours: float = 12.0
    secure_cookies: bool = False  # set when served behind TLS
    max_login_failures: int = 5
    lockout_seconds: float = 900.0
    # "oidc": sign-in with the district's accounts, the [oidc] settings (console.oidc, docs/oidc.md)
    extra: dict[str, Any] = field(default_factory=dict)
