"""Issue 16: a page script cannot "Post anyway" without the person (the override's origin rules)."""

from __future__ import annotations

import asyncio
import json
from urllib.parse import urlencode

import pytest
from mitmproxy.addonmanager import traverse
from mitmproxy.test import taddons

from proxy_addon.addon import PostguardAddon

WARN_TEXT = "You are a worthless idiot and I will hurt you"
EXT = "chrome-extension://abcdefghijklmnopabcdefghijklmnop"
REASON = "Quoting a threat I received, to report it"


async def run(addon, flow) -> None:
    for name in ("requestheaders", "request"):
        for part in traverse([addon]):
            fn = getattr(part, name, None)
            if fn is not None and asyncio.iscoroutine(result := fn(flow)):
                await result


def addon(policy, rec, **opts):
    a = PostguardAddon(policy=policy, store=rec)
    tctx = taddons.context(a)
    tctx.configure(a, postguard_workers=0, **opts)
    return a


async def script_warning(a, mkflow) -> str:
    """The site's own script posts; the proxy answers JSON with the token."""
    f = mkflow("POST", "https://x.com/i/api/graphql/abc/CreateTweet",
               json.dumps({"variables": {"tweet_text": WARN_TEXT}}), {"content-type": "application/json",
                                                                     "origin": "https://x.com"})
    await run(a, f)
    assert f.response.status_code == 403
    return json.loads(f.response.content)["postguard"]["token"]


@pytest.mark.parametrize("headers", [
    {"origin": "https://x.com", "sec-fetch-mode": "cors", "sec-fetch-dest": "empty"},            # fetch() with a form body
    {"origin": "https://x.com"},                                                                 # no Sec-Fetch at all
    {"origin": "https://x.com", "sec-fetch-mode": "navigate", "sec-fetch-dest": "document",      # form.submit() by a
     "sec-fetch-site": "same-origin", "sec-fetch-user": "?1"},                                     # script, even clicked
])
@pytest.mark.parametrize("origins", [[], [EXT]])
async def test_a_script_token_cannot_be_used_as_a_form(policy, rec, mkflow, headers, origins):
    a = addon(policy, rec, postguard_override_origins=origins)
    token = await script_warning(a, mkflow)
    f = mkflow("POST", "https://x.com/__postguard/override", urlencode({"token": token, "justification": REASON}),
               {"content-type": "application/x-www-form-urlencoded", **headers})
    await run(a, f)
    assert f.response.status_code == 403 and "overridden" not in rec.actions()
    # the extension still can
    ok = mkflow("POST", "https://x.com/__postguard/override", json.dumps({"token": token, "justification": REASON}),
                {"content-type": "application/json", **({"origin": EXT} if origins else {})})
    await run(a, ok)
    assert ok.response.status_code == 200 and rec.actions()[-1] == "overridden"


@pytest.mark.parametrize("headers,status", [
    ({"sec-fetch-user": "?1"}, 200),                                   # the person pressed "Post anyway"
    ({"sec-fetch-user": ""}, 403),                                     # a script's form.submit()
    ({"sec-fetch-user": "?1", "sec-fetch-dest": "iframe"}, 403),       # inside a frame
    ({"sec-fetch-user": "?1", "sec-fetch-site": "cross-site"}, 403),   # from another site
    ({"sec-fetch-user": "?1", "origin": "https://evil.example"}, 403),
])
async def test_form_override_of_the_warning_page(policy, rec, mkflow, headers, status):
    a = addon(policy, rec)
    page = mkflow("POST", "https://www.facebook.com/composer/mbasic/",
                  urlencode({"fb_dtsg": "AQHsampletoken123", "xc_message": WARN_TEXT, "target": "100001234567890"}),
                  {"content-type": "application/x-www-form-urlencoded"}, navigate=True)
    await run(a, page)
    token = page.metadata["postguard"]["token"]
    f = mkflow("POST", "https://www.facebook.com/__postguard/override",
               urlencode({"token": token, "justification": REASON}),
               {"content-type": "application/x-www-form-urlencoded", **headers}, navigate=True)
    await run(a, f)
    got = 200 if f.response is None else f.response.status_code  # replayed: the original goes on
    assert got == status
    assert ("overridden" in rec.actions()) is (status == 200)
