"""The extension backend follows its policy folder when the folder is swapped under a link (as the
agent swaps STATE/policy/current): a post that was clean is flagged once a policy with a new
word is in force, the /v1/policy view and /healthz say the new digest, without a restart. A
folder that does not load leaves the policy in force."""

from __future__ import annotations

import asyncio

from policy_harness import FLAGGED_TEXT, broken_copy, point, versions

from checker import load_policy
from extension.backend import EXTENSION_ID, TOKEN_HEADER, BackendConfig, create_app

TOKEN = "test-token-0123456789abcdef"
GOOD = {"Origin": f"chrome-extension://{EXTENSION_ID}", TOKEN_HEADER: TOKEN}
POST = {"text": FLAGGED_TEXT, "site": "www.facebook.com"}


async def until_digest(client, digest: str, seconds: float = 20) -> None:
    for _ in range(int(seconds / 0.2)):
        r = await client.get("/healthz")
        if (await r.json())["policy_digest"] == digest:
            return
        await asyncio.sleep(0.2)
    raise AssertionError(f"the backend never ran policy {digest}")


async def test_backend_takes_a_swapped_policy_without_restart(aiohttp_client, tmp_path):
    v1, v2, current = versions(tmp_path)
    cfg = BackendConfig(policy=load_policy(current), token=TOKEN, store=_NoLog())
    client = await aiohttp_client(create_app(cfg))
    first = await client.post("/v1/check", json=POST, headers=GOOD)
    assert first.status == 200 and (await first.json())["findings"] == []

    point(current, v2)
    new = load_policy(v2, checks=False).digest
    await until_digest(client, new)
    second = await client.post("/v1/check", json=POST, headers=GOOD)  # same text: not the cached verdict
    rules = {f["rule"] for f in (await second.json())["findings"]}
    assert rules == {"conduct"}
    view = await (await client.post("/v1/policy", headers=GOOD)).json()
    assert view["digest"] == new

    point(current, broken_copy(v2, tmp_path / "v3"))
    await asyncio.sleep(3)  # more than one look at the link
    assert (await (await client.get("/healthz")).json())["policy_digest"] == new
    third = await client.post("/v1/check", json=POST, headers=GOOD)
    assert {f["rule"] for f in (await third.json())["findings"]} == {"conduct"}


class _NoLog:
    """The backend's log for a test that records nothing."""

    def append(self, event) -> str:
        return "uid"

    def close(self) -> None:
        pass
