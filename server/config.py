"""`ServerConfig`: where the database is, which policy the server serves, and its timings."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from server.alerts_settings import AlertSettings
from server.checkpoint import DEFAULT_KEY

if TYPE_CHECKING:
    from checker import Policy


@dataclass
class ServerConfig:
    """The district server's settings (`postguard server` builds one from its options)."""

    db: str
    policy: Policy
    signing_key: str | Path = DEFAULT_KEY   # Ed25519 PEM; created on first start
    heartbeat_interval: int = 300           # seconds between a device's heartbeats
    checkpoint_hours: float = 24.0          # a signed checkpoint at least this often
    checkpoint_dir: str | Path | None = None  # also write each checkpoint here (checkpoint-ID.json)
    clock_window: int = 300                 # a signed request's time may be this far off
    db_threads: int = 0                     # ingest connections (0: 4 on PostgreSQL, 1 on SQLite)
    sweep_seconds: float = 60.0             # how often silent devices are looked for
    retention_hours: float = 24.0           # how often retention runs
    secure_cookies: bool = False            # the console's cookies (set when served over TLS)
    behind_proxy: bool = False              # trust X-Forwarded-Proto/-Host (listen on loopback only then)
    spool: str | Path | None = None         # where the server's own events wait if the database is down
    alerts: AlertSettings = field(default_factory=AlertSettings.from_env)  # SMTP, webhook secret, retries
    alerts_file: str | Path | None = None   # the alert routes (default: the policy folder's alerts.toml)
    policy_seconds: float = 30.0            # how often the extension API looks for a newer signed bundle
    policy_cache: str | Path | None = None  # where it unpacks bundles (default: server-policy/ beside the signing key)
