"""The district server: the device API (enrolment, events, heartbeats), the review console,
device health, retention and signed chain-head checkpoints, over one database.

`create_app(ServerConfig(...))` builds the aiohttp application (`postguard server` runs it).
"""

from server.app import create_app
from server.config import ServerConfig

__all__ = ["ServerConfig", "create_app"]
