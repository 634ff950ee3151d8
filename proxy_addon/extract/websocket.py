"""Messages sent over websockets (Meta's MQTT-over-websocket chat)."""

from __future__ import annotations

from typing import Any

from proxy_addon.extract.model import Submission


def extract_websocket(url: str, message: bytes, policy: Any) -> Submission | None:
    """The submission a client-to-server websocket message makes, or None."""
    return None
