"""The agent's client of the device API (docs/device-api.md): every request after enrolment is
signed with the device's Ed25519 key over method, path, time, a fresh nonce and the body's SHA-256.

The client keeps the offset between this computer's clock and the server's (from a refused
`stale` request's `Date` header) and signs with the server's time from then on, so a device whose
clock is wrong still reaches the server; the skew is reported in every heartbeat.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import ssl
import time
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

VERSION = "postguard-v1"
H_DEVICE, H_TIME, H_NONCE, H_SIGNATURE = ("X-Postguard-Device", "X-Postguard-Time", "X-Postguard-Nonce",
                                          "X-Postguard-Signature")
ENROLL, EVENTS, HEARTBEAT, HEALTH = "/api/v1/enroll", "/api/v1/events", "/api/v1/heartbeat", "/api/v1/health"


def signed_string(method: str, path_qs: str, t: str, nonce: str, body: bytes) -> bytes:
    """What a device signs: version, method, path with query, time, nonce, lower-case hex SHA-256 of the body."""
    return "\n".join((VERSION, method.upper(), path_qs, t, nonce, hashlib.sha256(body).hexdigest())).encode()


def signature_headers(key: Ed25519PrivateKey, device: str, method: str, path_qs: str, body: bytes,
                      now: float) -> dict[str, str]:
    """The four headers of one signed request (a new nonce each time)."""
    t = str(int(now))
    nonce = secrets.token_hex(16)
    sig = key.sign(signed_string(method, path_qs, t, nonce, body))
    return {H_DEVICE: device, H_TIME: t, H_NONCE: nonce, H_SIGNATURE: base64.b64encode(sig).decode("ascii")}


def public_key_b64(key: Ed25519PrivateKey) -> str:
    """The raw 32-byte public key, base64, as sent at enrolment."""
    return base64.b64encode(key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)).decode("ascii")


def check_server_url(url: str) -> str:
    """The server's base URL without a trailing slash; ValueError when it is not http(s)://HOST[:PORT]."""
    u = url.strip().rstrip("/")
    p = urlsplit(u)
    if p.scheme not in ("http", "https") or not p.hostname or p.query or p.fragment:
        raise ValueError(f"server URL: expected https://HOST[:PORT] (got {url!r})")
    return u


def tls_context(ca_file: str | None) -> ssl.SSLContext | None:
    """The system's trust store, or only `ca_file` (a district's own CA) when given."""
    if not ca_file:
        return None
    try:
        return ssl.create_default_context(cafile=ca_file)
    except (OSError, ssl.SSLError) as e:
        raise ValueError(f"--ca {ca_file}: {getattr(e, 'strerror', None) or e}") from None


@dataclass
class Reply:
    """One answer: HTTP status, the JSON body (a dict; {} when there was none) and the server's Date."""

    status: int
    body: dict[str, Any] = field(default_factory=dict)
    date: float | None = None  # the server's clock, from its Date header

    @property
    def reason(self) -> str:
        """The machine-readable reason of a refusal (401/403), else ''."""
        return str(self.body.get("reason") or "")

    @property
    def error(self) -> str:
        """The server's error message, else ''."""
        return str(self.body.get("error") or "")


def _date_of(headers: Any) -> float | None:
    raw = headers.get("Date")
    if not raw:
        return None
    try:
        return parsedate_to_datetime(raw).timestamp()
    except (TypeError, ValueError):
        return None


class DeviceAPI:
    """One device's signed requests to its server. Network failures raise `aiohttp.ClientError`
    or `asyncio.TimeoutError`; every HTTP answer comes back as a `Reply`."""

    def __init__(self, server: str, device_id: str, key: Ed25519PrivateKey, session: aiohttp.ClientSession,
                 *, ssl_context: ssl.SSLContext | None = None, timeout: float = 60.0) -> None:
        self.base = check_server_url(server)
        self.device_id = device_id
        self.key = key
        self.session = session
        self.ssl: ssl.SSLContext | bool = ssl_context if ssl_context is not None else True
        self.timeout = aiohttp.ClientTimeout(total=timeout, sock_connect=min(10.0, timeout))
        self.clock_offset = 0.0  # server time minus ours, learnt from a `stale` refusal

    def now(self) -> float:
        """The time to sign with: ours, corrected by what the server told us."""
        return time.time() + self.clock_offset

    async def _send(self, method: str, path: str, body: bytes, headers: dict[str, str]) -> Reply:
        if body:
            headers["Content-Type"] = "application/json"
        async with self.session.request(method, self.base + path, data=body, headers=headers, ssl=self.ssl,
                                        timeout=self.timeout) as r:
            raw = await r.read()
            try:
                got = json.loads(raw.decode("utf-8")) if raw else {}
            except (UnicodeDecodeError, ValueError):
                got = {}
            return Reply(r.status, got if isinstance(got, dict) else {}, _date_of(r.headers))

    async def signed(self, method: str, path: str, payload: Any = None) -> Reply:
        """A signed request. A `stale` refusal with a usable Date header corrects the clock offset
        and is retried once; a `replay` refusal (a nonce collision) is retried once with a new nonce."""
        body = b"" if payload is None else json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
        reply = Reply(0)
        for attempt in range(2):
            headers = signature_headers(self.key, self.device_id, method, path, body, self.now())
            reply = await self._send(method, path, body, headers)
            if reply.status != 401 or attempt:
                break
            if reply.reason == "stale" and reply.date is not None:
                self.clock_offset = reply.date - time.time()
            elif reply.reason != "replay":
                break
        return reply

    async def upload(self, rows: list[dict[str, Any]]) -> Reply:
        """POST /api/v1/events with chained rows exactly as stored."""
        return await self.signed("POST", EVENTS, {"events": rows})

    async def heartbeat(self, fields: dict[str, Any]) -> Reply:
        """POST /api/v1/heartbeat."""
        return await self.signed("POST", HEARTBEAT, fields)


async def enroll(server: str, code: str, key: Ed25519PrivateKey, *, hostname: str, name: str | None,
                 agent_version: str, ssl_context: ssl.SSLContext | None = None, timeout: float = 30.0) -> Reply:
    """POST /api/v1/enroll (not signed: the one-time code is the credential)."""
    body = {"code": code, "public_key": public_key_b64(key), "hostname": hostname, "agent_version": agent_version}
    if name:
        body["name"] = name
    async with aiohttp.ClientSession() as session:
        api = DeviceAPI(server, "", key, session, ssl_context=ssl_context, timeout=timeout)
        raw = json.dumps(body).encode()
        return await api._send("POST", ENROLL, raw, {})


def network_error(e: BaseException) -> str:
    """A failure to reach the server, in one line for logs and status (no URL credentials)."""
    if isinstance(e, TimeoutError):
        return "timed out"
    if isinstance(e, aiohttp.ClientConnectorCertificateError):
        return f"TLS certificate not trusted ({e.certificate_error})"
    if isinstance(e, aiohttp.ClientConnectorError):
        return f"cannot connect ({e.os_error.strerror or type(e.os_error).__name__})"
    return f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}".strip()
