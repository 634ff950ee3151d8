"""The backend's gatekeepers: Host (DNS rebinding), exact Origin, install token, size, rate.

Any web page can make the browser send requests to 127.0.0.1, so every request must prove
it comes from our extension: a loopback Host, an allow-listed `chrome-extension://` Origin
(never a missing one, never a wildcard answer) and the install token.
"""

from __future__ import annotations

import hmac
import time
from collections.abc import Awaitable, Callable

from aiohttp import web
from aiohttp.typedefs import Middleware

from extension.backend.config import TOKEN_HEADER, BackendConfig

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
LOOPBACK_NAMES = frozenset({"127.0.0.1", "localhost", "[::1]"})
OPEN_WITHOUT_ORIGIN = frozenset({"/healthz"})  # curl-able liveness probe: digest, extension last seen; no posts


def error(status: int, message: str, details: list[str] | None = None,
          headers: dict[str, str] | None = None) -> web.Response:
    """A JSON error answer: {"error": message, "details": [...]}."""
    body: dict[str, object] = {"error": message}
    if details:
        body["details"] = details
    return web.json_response(body, status=status, headers=headers)


def host_ok(host: str | None, port: int) -> bool:
    """True when Host names loopback literally (and our port, when we know it)."""
    if not host:
        return False
    name, sep, p = host.lower().rpartition(":")
    if not sep or name == "[":  # no port given (or a bare IPv6 literal)
        name, p = host.lower(), ""
    if name not in LOOPBACK_NAMES:
        return False
    if p and not p.isdigit():
        return False
    return not port or not p or int(p) == port


class RateLimiter:
    """A token bucket: `rate` requests a second on average, bursts up to `burst`."""

    def __init__(self, rate: float, burst: int) -> None:
        self.rate, self.burst = rate, float(burst)
        self.tokens, self.stamp = float(burst), time.monotonic()

    def allow(self) -> bool:
        """Take one token if there is one."""
        now = time.monotonic()
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False


class Budget:
    """A token bucket spent by cost (events, bytes): `rate` a second, up to `burst` saved."""

    def __init__(self, rate: float, burst: float) -> None:
        self.rate, self.burst = rate, float(burst)
        self.tokens, self.stamp = float(burst), time.monotonic()

    def _refill(self) -> None:
        now = time.monotonic()
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now

    def can(self, cost: float) -> bool:
        """Whether `cost` is available now (nothing spent)."""
        self._refill()
        return self.tokens >= min(cost, self.burst)

    def spend(self, cost: float) -> None:
        """Spend `cost` (call after `can`)."""
        self.tokens -= min(cost, self.burst)

    def wait(self, cost: float) -> int:
        """Whole seconds until `cost` is available."""
        self._refill()
        return max(1, int((min(cost, self.burst) - self.tokens) / self.rate) + 1) if self.rate > 0 else 3600


def _cors(origin: str) -> dict[str, str]:
    # Only ever the exact allowed origin; the extension does not need CORS (host
    # permissions), but answering it precisely keeps devtools and preflights honest.
    return {"Access-Control-Allow-Origin": origin, "Vary": "Origin"}


class Seen:
    """When the extension last made a request that passed every check (the agent's heartbeat
    reports it, read from /healthz)."""

    def __init__(self) -> None:
        self.at: float | None = None


def guard(config: BackendConfig, seen: Seen | None = None) -> Middleware:
    """The one middleware that applies every check, cheapest first (`seen` notes each request
    from the extension)."""
    allowed = config.allowed_origins
    limiter = RateLimiter(config.rate_per_second, config.rate_burst)
    token = config.token.encode()

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        if not host_ok(request.headers.get("Host"), config.port):
            return error(421, "wrong Host header: this service answers only as 127.0.0.1 or localhost")
        origin = request.headers.get("Origin")
        if origin is None and request.path in OPEN_WITHOUT_ORIGIN and request.method == "GET":
            return await handler(request)
        if origin is None:
            return error(403, "missing Origin header: only the postguard extension may call this service")
        if origin not in allowed:
            return error(403, "Origin not allowed: only the postguard extension may call this service")
        if request.method == "OPTIONS":
            return web.Response(status=204, headers={
                **_cors(origin),
                "Access-Control-Allow-Methods": "GET, POST",
                "Access-Control-Allow-Headers": f"Content-Type, {TOKEN_HEADER}",
                "Access-Control-Max-Age": "600",
            })
        given = request.headers.get(TOKEN_HEADER, "").encode()
        if not hmac.compare_digest(given, token):
            return error(401, f"missing or wrong {TOKEN_HEADER} header", headers=_cors(origin))
        if not limiter.allow():
            return error(429, "too many requests; slow down", headers={**_cors(origin), "Retry-After": "1"})
        if request.content_length is not None and request.content_length > config.max_body_bytes:
            return error(413, f"body larger than {config.max_body_bytes:,} bytes", headers=_cors(origin))
        if seen is not None:
            seen.at = time.time()
        response = await handler(request)
        response.headers.update(_cors(origin))
        return response

    return middleware
