"""What the add-on's parts share: the policy, the settings, the log, pending overrides, checks."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from checker import Policy
from enforce import Overrides
from proxy_addon.extract import is_social_host
from proxy_addon.settings import DEFAULTS, ProxySettings
from proxy_addon.staff import ConnectionStaff
from proxy_addon.worker import Checks


@dataclass
class State:
    """One per add-on; `configure` replaces `policy` and `settings` as a whole."""

    checks: Checks
    clock: Callable[[], float] = time.monotonic
    policy: Policy | None = None
    settings: ProxySettings = DEFAULTS
    store: Any = None
    overrides: Overrides = field(init=False)
    staff: ConnectionStaff = field(default_factory=ConnectionStaff)  # each connection's OS account
    _social: dict[str, bool] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.overrides = Overrides(self.settings.override_window, self.clock)

    def staff_of(self, client: Any) -> tuple[str | None, str | None]:
        """(staff, staff_source) for an event on this client connection: the socket's OS account,
        else the device's assigned user (postguard_staff), else nothing."""
        found = self.staff.of(client) if client is not None else None
        if found:
            return found
        return (self.settings.staff, "enrolment") if self.settings.staff else (None, None)

    def set_policy(self, policy: Policy) -> None:
        """Use `policy` from now on."""
        self.policy = policy
        self._social.clear()

    def is_social(self, host: str, path: str | None = None) -> bool:
        """Whether the policy treats `host` (and, for Mastodon and Bluesky, `path`) as social media."""
        if self.policy is None:
            return False
        host = host.lower().rstrip(".")
        hit = self._social.get(host)
        if hit is None:
            hit = bool(is_social_host(host, self.policy))
            if len(self._social) > 4096:
                self._social.clear()
            self._social[host] = hit
        # Mastodon and Bluesky run on any host: their API paths make a host social.
        return hit or (path is not None and is_social_host(host, self.policy, path.split("?", 1)[0]))
