"""A minimal signed client of the device API, for tests and tools (the agent has its own forwarder)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import aiohttp
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from server.signing import public_key_b64, sign_headers


@dataclass
class Answer:
    """A response: status and JSON body."""

    status: int
    body: dict[str, Any]


class DeviceClient:
    """One device talking to a server at `base_url` (e.g. http://127.0.0.1:8733)."""

    def __init__(self, base_url: str, session: aiohttp.ClientSession, key: Ed25519PrivateKey | None = None,
                 device: str | None = None) -> None:
        self.base = base_url.rstrip("/")
        self.session = session
        self.key = key or Ed25519PrivateKey.generate()
        self.device = device

    async def enroll(self, code: str, hostname: str = "pc-lab-1", **extra: Any) -> Answer:
        """Enrol with a one-time code; remembers the device id on success."""
        body = {"code": code, "public_key": public_key_b64(self.key), "hostname": hostname,
                "agent_version": "test", **extra}
        async with self.session.post(self.base + "/api/v1/enroll", json=body) as r:
            ans = Answer(r.status, await r.json())
        if ans.status == 201:
            self.device = ans.body["device_id"]
        return ans

    async def signed(self, method: str, path: str, body: Any = None, *, headers: dict[str, str] | None = None,
                     raw: bytes | None = None) -> Answer:
        """A signed request (`headers` replace the signature headers, to forge one)."""
        data = raw if raw is not None else (b"" if body is None else json.dumps(body).encode())
        h = sign_headers(self.key, self.device or "", method, path, data)
        h.update(headers or {})
        if data:
            h["Content-Type"] = "application/json"
        async with self.session.request(method, self.base + path, data=data, headers=h) as r:
            try:
                got = await r.json(content_type=None)
            except ValueError:
                got = {"text": await r.text()}
            return Answer(r.status, got if isinstance(got, dict) else {"body": got})

    async def send_events(self, rows: list[dict[str, Any]]) -> Answer:
        """Upload chained rows."""
        return await self.signed("POST", "/api/v1/events", {"events": rows})

    async def heartbeat(self, **fields: Any) -> Answer:
        """Send a heartbeat (healthy defaults, overridden by `fields`)."""
        body = {"agent_version": "test", "policy_digest": None, "last_seq": 0, "head_hash": None,
                "proxy_up": True, "backend_up": True, "extension_seen": None, "queue_depth": 0,
                "queue_limit": 200000, "clock": None, "started_at": None, **fields}
        return await self.signed("POST", "/api/v1/heartbeat", body)
