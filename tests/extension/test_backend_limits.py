"""Issue 16: forged events from a local process that knows the extension's Origin and token are
capped in number and bytes (429, Retry-After; the extension keeps its queue and retries)."""

from __future__ import annotations

from extension.backend import EXTENSION_ID, TOKEN_HEADER, BackendConfig, create_app

TOKEN = "test-token-0123456789abcdef"
GOOD = {"Origin": f"chrome-extension://{EXTENSION_ID}", TOKEN_HEADER: TOKEN}


def event(text: str) -> dict:
    return {"choice": "overridden", "text": text, "site": "www.facebook.com",
            "justification": "Quoting it to report it to the principal"}


async def test_forged_events_are_capped_by_bytes(aiohttp_client, policy, log):
    # The defaults save up 8 MiB and refill 64 KiB/s; scaled down here so the checks stay cheap.
    cfg = BackendConfig(policy=policy, token=TOKEN, store=log, rate_per_second=1000, rate_burst=1000,
                        event_bytes_burst=70_000, event_bytes_per_second=1)
    c = await aiohttp_client(create_app(cfg))
    big = {"events": [event("Practice moved to the north field. " * 28) for _ in range(20)]}  # ~21 KB
    statuses = [(await c.post("/v1/events", json=big, headers=GOOD)).status for _ in range(6)]
    assert statuses == [201, 201, 201, 429, 429, 429]
    r = await c.post("/v1/events", json=big, headers=GOOD)
    assert r.status == 429 and int(r.headers["Retry-After"]) >= 1
    assert len(log.events) == 3 * 20
    assert BackendConfig(policy=policy, token=TOKEN).event_bytes_per_second == 64 * 1024


async def test_forged_events_are_capped_by_count(aiohttp_client, policy, log):
    cfg = BackendConfig(policy=policy, token=TOKEN, store=log, rate_per_second=1000, rate_burst=1000,
                        events_burst=30)
    c = await aiohttp_client(create_app(cfg))
    got = [(await c.post("/v1/events", json=event(f"Choice number {i}"), headers=GOOD)).status for i in range(40)]
    assert got[:30] == [201] * 30 and got[30:] == [429] * 10
    assert len(log.events) == 30
