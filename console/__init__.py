"""The IT review console: aiohttp with server-rendered pages over the interception log."""

from console.app import CONFIG, POLICY, STORE, ConsoleConfig, create_app

__all__ = ["CONFIG", "POLICY", "STORE", "ConsoleConfig", "create_app"]
