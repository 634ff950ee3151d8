"""The IT review console: aiohttp with server-rendered pages over the interception log."""

from console.app import create_app
from console.config import ConsoleConfig
from console.keys import CONFIG, POLICY, STORE

__all__ = ["CONFIG", "POLICY", "STORE", "ConsoleConfig", "create_app"]
