"""Add-on units: taddons + tflow, one table of decisions, then overrides, limits and fail modes."""

from __future__ import annotations

import asyncio
import gzip
import json
import shutil
import time
from pathlib import Path

import pytest
from mitmproxy import exceptions
from mitmproxy.addonmanager import traverse
from mitmproxy.test import taddons

from checker import load_policy
from proxy_addon.addon import PostguardAddon, social_hosts_regex

WARN_TEXT = "You are a worthless idiot and I will hurt you"          # conduct: warn (personal)
BLOCK_TEXT = "Tyler Quinlan failed the chemistry final again"        # student-privacy: block
CLEAN_TEXT = "Great game tonight, go team!"
FORM = {"content-type": "application/x-www-form-urlencoded"}
JSONH = {"content-type": "application/json"}


def tweet(text: str) -> bytes:
    return json.dumps({"text": text}).encode()


def fb_form(text: str) -> str:
    from urllib.parse import urlencode
    return urlencode({"fb_dtsg": "AQHsampletoken123", "xc_message": text, "target": "100001234567890"})


make_flow = None  # set by the autouse fixture below (helpers live in conftest)


@pytest.fixture(autouse=True)
def _flows(mkflow):
    global make_flow
    make_flow = mkflow


async def hook(addon: PostguardAddon, name: str, flow) -> None:
    """Call hook `name` on the add-on and its children, in order, as mitmproxy does."""
    for part in traverse([addon]):
        fn = getattr(part, name, None)
        if fn is not None:
            result = fn(flow)
            if asyncio.iscoroutine(result):
                await result


async def run(addon: PostguardAddon, flow) -> None:
    await hook(addon, "requestheaders", flow)
    await hook(addon, "request", flow)


def make_addon(policy, rec, **opts) -> tuple[PostguardAddon, taddons.context]:
    a = PostguardAddon(policy=policy, store=rec)
    tctx = taddons.context(a)
    tctx.configure(a, **{"postguard_workers": 0, "postguard_log_passed": True, **opts})
    return a, tctx


CASES = [
    # id, method, url, body, headers, navigate, expected status (None = forwarded), event action
    ("violating-json-warned", "POST", "https://api.twitter.com/2/tweets", tweet(WARN_TEXT), JSONH, False, 403, "warned"),
    ("violating-form-warned-page", "POST", "https://www.facebook.com/composer/mbasic/", fb_form(WARN_TEXT), FORM, True,
     403, "warned"),
    ("clean-json-passed", "POST", "https://api.twitter.com/2/tweets", tweet(CLEAN_TEXT), JSONH, False, None, "passed"),
    ("clean-form-passed", "POST", "https://www.facebook.com/composer/mbasic/", fb_form(CLEAN_TEXT), FORM, True,
     None, "passed"),
    ("student-privacy-blocked", "POST", "https://api.twitter.com/2/tweets", tweet(BLOCK_TEXT), JSONH, False, 403,
     "blocked"),
    ("near-miss-search-get", "GET", f"https://www.facebook.com/search/top/?q={WARN_TEXT}", b"", {}, True, None, None),
    ("near-miss-like", "POST", "https://www.facebook.com/api/graphql/",
     "fb_api_req_friendly_name=CometUFIFeedbackReactMutation&variables=%7B%22input%22%3A%7B%22feedback_reaction_id%22%3A%221635855486666999%22%7D%7D",
     FORM, False, None, None),
    ("non-social-untouched", "POST", "https://example.org/comments", tweet(WARN_TEXT), JSONH, False, None, None),
    ("evasion-gzip-body", "POST", "https://api.twitter.com/2/tweets", gzip.compress(tweet(WARN_TEXT)),
     {**JSONH, "content-encoding": "gzip"}, False, 403, "warned"),
]


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
async def test_decision_table(policy, rec, case):
    _id, method, url, body, headers, navigate, status, action = case
    a, _ = make_addon(policy, rec)
    f = make_flow(method, url, body, headers, navigate=navigate)
    await run(a, f)
    assert (f.response.status_code if f.response else None) == status
    assert rec.actions() == ([action] if action else [])
    if action is None and "example.org" in url:
        assert "postguard" not in f.metadata


async def test_warn_page_cites_clause_highlights_and_offers_override(policy, rec):
    a, _ = make_addon(policy, rec)
    f = make_flow("POST", "https://www.facebook.com/composer/mbasic/", fb_form(WARN_TEXT), FORM, navigate=True)
    await run(a, f)
    html = f.response.get_text()
    assert f.response.headers["content-type"].startswith("text/html")
    assert "personal rule 9" in html and "P9." in html               # the clause, cited and quoted
    assert "<mark>" in html                                           # the offending words highlighted
    assert "Go back and edit" in html and "Post anyway" in html
    assert 'minlength="10"' in html and "/__postguard/override" in html
    assert "P.A. 98-142" in html                                      # the monitoring notice
    assert f.metadata["postguard"]["action"] == "warn" and f.metadata["postguard"]["fired"] == ["conduct"]


async def test_block_page_has_no_override(policy, rec):
    a, _ = make_addon(policy, rec)
    f = make_flow("POST", "https://www.facebook.com/composer/mbasic/", fb_form(BLOCK_TEXT), FORM, navigate=True)
    await run(a, f)
    html = f.response.get_text()
    assert "Post anyway" not in html and "Go back and edit" in html and "P.A. 98-142" in html
    assert "Tyler Quinlan" in html  # the user's own text is shown to the user, highlighted


async def test_json_warning_for_fetch(policy, rec):
    a, _ = make_addon(policy, rec)
    f = make_flow("POST", "https://api.twitter.com/2/tweets", tweet(WARN_TEXT), JSONH)
    await run(a, f)
    body = json.loads(f.response.content)["postguard"]
    assert body["action"] == "warn" and body["override_url"] == "https://api.twitter.com/__postguard/override"
    assert body["findings"][0]["rule"] == "conduct" and body["token"] and "98-142" in body["notice"]


async def override(a, host: str, token: str, justification: str, *, as_json: bool, client: str = "10.0.0.5"):
    if as_json:
        f = make_flow("POST", f"https://{host}/__postguard/override",
                      json.dumps({"token": token, "justification": justification}), JSONH, client=client)
    else:
        from urllib.parse import urlencode
        f = make_flow("POST", f"https://{host}/__postguard/override",
                      urlencode({"token": token, "justification": justification}), FORM, navigate=True, client=client)
    await run(a, f)
    return f


async def test_override_fetch_flow_passes_same_content_once(policy, rec):
    a, _ = make_addon(policy, rec)
    url = "https://api.twitter.com/2/tweets"
    f1 = make_flow("POST", url, tweet(WARN_TEXT), JSONH)
    await run(a, f1)
    token = json.loads(f1.response.content)["postguard"]["token"]
    short = await override(a, "api.twitter.com", token, "too short", as_json=True)
    assert short.response.status_code == 400
    ok = await override(a, "api.twitter.com", token, "Quoting a threat I received, to report it", as_json=True)
    assert ok.response.status_code == 200
    # a different post is still warned; the same one passes once, then is warned again
    other = make_flow("POST", url, tweet(WARN_TEXT + " again"), JSONH)
    await run(a, other)
    again = make_flow("POST", url, tweet(WARN_TEXT), JSONH)
    await run(a, again)
    third = make_flow("POST", url, tweet(WARN_TEXT), JSONH)
    await run(a, third)
    assert other.response.status_code == 403 and again.response is None and third.response.status_code == 403
    assert rec.actions() == ["warned", "overridden", "warned", "passed", "warned"]
    ov = rec.events[1]
    assert ov.justification == "Quoting a threat I received, to report it" and ov.request_id == token
    # a used token cannot be used twice
    reuse = await override(a, "api.twitter.com", token, "Quoting a threat I received", as_json=True)
    assert reuse.response.status_code == 410


async def test_override_is_per_client_and_per_target(policy, rec):
    a, _ = make_addon(policy, rec)
    url = "https://api.twitter.com/2/tweets"
    f1 = make_flow("POST", url, tweet(WARN_TEXT), JSONH)
    await run(a, f1)
    token = json.loads(f1.response.content)["postguard"]["token"]
    await override(a, "api.twitter.com", token, "a sufficiently long reason", as_json=True)
    other_client = make_flow("POST", url, tweet(WARN_TEXT), JSONH, client="10.0.0.99")
    await run(a, other_client)
    assert other_client.response.status_code == 403
    wrong_host = await override(a, "www.facebook.com", token, "a sufficiently long reason", as_json=True)
    assert wrong_host.response.status_code == 410


async def test_override_form_replays_original_post(policy, rec):
    a, _ = make_addon(policy, rec)
    body = fb_form(WARN_TEXT)
    f1 = make_flow("POST", "https://www.facebook.com/composer/mbasic/?av=1", body, FORM, navigate=True)
    await run(a, f1)
    token = f1.metadata["postguard"]["token"]
    f2 = await override(a, "www.facebook.com", token, "I am reporting this message to the police", as_json=False)
    assert f2.response is None                                   # goes upstream...
    assert f2.request.path == "/composer/mbasic/?av=1"           # ...as the original post
    assert f2.request.raw_content == body.encode()
    assert rec.actions() == ["warned", "overridden"]
    assert rec.events[1].url == "https://www.facebook.com/composer/mbasic/"  # no query in the log


async def test_override_expires(policy, rec):
    now = [1000.0]
    a = PostguardAddon(policy=policy, store=rec, clock=lambda: now[0])
    with taddons.context(a) as tctx:
        tctx.configure(a, postguard_override_window=60, postguard_workers=0)
        f1 = make_flow("POST", "https://api.twitter.com/2/tweets", tweet(WARN_TEXT), JSONH)
        await run(a, f1)
        token = json.loads(f1.response.content)["postguard"]["token"]
        now[0] += 61
        late = await override(a, "api.twitter.com", token, "a sufficiently long reason", as_json=True)
        assert late.response.status_code == 410


@pytest.mark.parametrize("navigate", [True, False])
async def test_oversized_body_413_from_content_length(policy, rec, navigate):
    a, _ = make_addon(policy, rec, postguard_max_body_bytes=1000)
    f = make_flow("POST", "https://api.twitter.com/2/tweets", b"", {**JSONH, "content-length": "5000"},
                  navigate=navigate)
    await hook(a, "requestheaders", f)
    assert f.response.status_code == 413 and rec.actions() == ["blocked"]


async def test_oversized_chunked_body_413_in_request(policy, rec):
    a, _ = make_addon(policy, rec, postguard_max_body_bytes=1000)
    f = make_flow("POST", "https://api.twitter.com/2/tweets", tweet("x" * 2000),
                  {**JSONH, "transfer-encoding": "chunked", "content-length": ""})
    del f.request.headers["content-length"]
    await run(a, f)
    assert f.response.status_code == 413


async def test_non_social_large_body_untouched(policy, rec):
    a, _ = make_addon(policy, rec, postguard_max_body_bytes=1000)
    f = make_flow("POST", "https://example.org/upload", b"", {"content-length": "5000000"})
    await run(a, f)
    assert f.response is None and rec.events == [] and "postguard" not in f.metadata


@pytest.mark.parametrize("fail_mode,status", [("pass", None), ("block", 503)])
@pytest.mark.parametrize("kind", ["bomb", "malformed-json", "bad-encoding", "checker-error", "timeout"])
@pytest.mark.parametrize("url,option", [
    ("https://api.twitter.com/2/tweets", "postguard_posting_fail_mode"),      # a known posting endpoint
    ("https://www.tumblr.com/svc/unknown/endpoint", "postguard_fail_mode"),   # the generic extractor's
])
async def test_fail_modes(policy, rec, fail_mode, status, kind, url, option):
    checker = None
    if kind == "checker-error":
        def checker(post, pol):
            raise RuntimeError("boom")
    elif kind == "timeout":
        def checker(post, pol):
            time.sleep(0.3)
            raise AssertionError("should have timed out")
    a = PostguardAddon(policy=policy, store=rec, checker=checker)
    with taddons.context(a) as tctx:
        other = "postguard_fail_mode" if option == "postguard_posting_fail_mode" else "postguard_posting_fail_mode"
        tctx.configure(a, **{option: fail_mode, other: "pass" if fail_mode == "block" else "block"},
                       postguard_max_body_bytes=100_000,
                       postguard_check_timeout_ms=50 if kind == "timeout" else 5000, postguard_workers=0)
        body, headers = tweet(WARN_TEXT), dict(JSONH)
        if kind == "bomb":  # 50 MB of zeros in ~50 KB: refused by the bounded decoder
            body, headers = gzip.compress(b"0" * 50_000_000), {**JSONH, "content-encoding": "gzip"}
        elif kind == "malformed-json":
            body = b'{"text": "Great game tonight, go team' + b"\xff\xfe"
        elif kind == "bad-encoding":  # the raw bytes are scanned: clean text, so the fail mode decides
            body, headers["content-encoding"] = tweet(CLEAN_TEXT), "gzip"
        f = make_flow("POST", url, body, headers)
        await run(a, f)
    assert (f.response.status_code if f.response else None) == status
    assert rec.actions() == ["error"] and rec.events[0].error
    assert f.metadata["postguard"]["action"] == "error"


async def test_log_only_policy_forwards_and_records(policy, rec, tmp_path: Path):
    pol_dir = tmp_path / "policy"
    shutil.copytree(policy.data.path, pol_dir)
    rules = pol_dir / "rules.toml"
    rules.write_text(rules.read_text().replace('action = { personal = "warn", sponsored = "block" }',
                                               'action = "log"', 1))
    a = PostguardAddon(store=rec)
    with taddons.context(a) as tctx:
        tctx.configure(a, postguard_policy=str(pol_dir), postguard_workers=0)
        f = make_flow("POST", "https://api.twitter.com/2/tweets", tweet(WARN_TEXT), JSONH)
        await run(a, f)
    assert f.response is None and rec.actions() == ["logged"] and rec.events[0].findings[0]["rule"] == "conduct"


@pytest.mark.parametrize("opts,needle", [
    ({"postguard_policy": "/nonexistent/policy"}, "/nonexistent/policy"),
    ({"postguard_fail_mode": "maybe"}, "maybe"),
    ({"postguard_max_body_bytes": -5}, "-5"),
    ({"stream_large_bodies": "1m"}, "stream_large_bodies"),
])
def test_configure_rejects_bad_values(policy, rec, opts, needle):
    from mitmproxy.addons.proxyserver import Proxyserver

    a = PostguardAddon(store=rec) if "postguard_policy" in opts else PostguardAddon(policy=policy, store=rec)
    with taddons.context(Proxyserver(), a) as tctx:
        with pytest.raises(exceptions.OptionsError, match=needle.replace("/", ".")):
            tctx.configure(a, **opts)


def test_configure_sets_allow_hosts_to_social_only(policy, rec):
    a = PostguardAddon(policy=policy, store=rec)
    with taddons.context(a) as tctx:
        tctx.configure(a, postguard_device="lab-12")
        rx = tctx.options.allow_hosts
    assert rx == [social_hosts_regex(policy)]
    import re
    pat = re.compile(rx[0], re.I)
    assert pat.search("www.facebook.com:443") and pat.search("x.com:443") and pat.search("api.twitter.com:443")
    assert not pat.search("facebook.com.evil.example:443") and not pat.search("notfacebook.com:443")
    assert not pat.search("example.org:443") and not pat.search("127.0.0.1:443")


def test_configure_respects_user_allow_hosts(policy, rec):
    a = PostguardAddon(policy=policy, store=rec)
    with taddons.context(a) as tctx:
        tctx.configure(a, allow_hosts=["^intranet\\.example:443$"])
        assert tctx.options.allow_hosts == ["^intranet\\.example:443$"]


def test_policy_loaded_from_option(rec):
    a = PostguardAddon(store=rec)
    with taddons.context(a) as tctx:
        tctx.configure(a, postguard_policy=str(load_policy(None).data.path))
    assert a.policy is not None and a.settings.max_body == a.policy.settings.max_body_bytes


def _ws_flow(text: str | None):
    import importlib.util

    from mitmproxy import websocket
    from mitmproxy.test import tflow
    from wsproto.frame_protocol import Opcode

    spec = importlib.util.spec_from_file_location("pg_cases_ws", Path(__file__).parent / "data" / "cases.py")
    cases = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(cases)
    url, msg = cases.ws_message(text)
    f = tflow.tflow(ws=True)
    f.request.url = url
    f.request.host = "edge-chat.facebook.com"
    f.request.headers["host"] = "edge-chat.facebook.com"
    f.websocket.messages.append(websocket.WebSocketMessage(Opcode.BINARY, True, msg))
    return f


@pytest.mark.parametrize("text,action,dropped", [
    (None, "passed", False),                                                     # the clean sample
    ("I am going to kill you at the game tomorrow.", "logged", False),           # warn: no page possible
    ("Mason Brandt was suspended for three days after the fight.", "blocked", True),  # block: dropped
])
async def test_websocket_chat_message(policy, rec, text, action, dropped):
    a, _ = make_addon(policy, rec)
    f = _ws_flow(text)
    await hook(a, "websocket_message", f)
    assert rec.actions() == [action]
    assert f.websocket.messages[-1].dropped is dropped


async def test_checks_in_a_worker_process(policy, rec):
    """The default: extraction and checks in a separate process (same decisions, bomb refused)."""
    a = PostguardAddon(policy=policy, store=rec)
    with taddons.context(a) as tctx:
        tctx.configure(a, postguard_workers=1, postguard_max_body_bytes=100_000, postguard_check_timeout_ms=60_000,
                       postguard_log_passed=True)
        flows = [make_flow("POST", "https://api.twitter.com/2/tweets", tweet(t), JSONH)
                 for t in (WARN_TEXT, CLEAN_TEXT, BLOCK_TEXT)]
        flows.append(make_flow("POST", "https://api.twitter.com/2/tweets", gzip.compress(b"0" * 5_000_000),
                               {**JSONH, "content-encoding": "gzip"}))
        for f in flows:
            await run(a, f)
        a.done()
    assert a.state.checks.workers == []
    # the bomb went to a known posting endpoint: its fail mode (block by default) answers 503
    assert [f.response.status_code if f.response else None for f in flows] == [403, None, 403, 503]
    assert rec.actions() == ["warned", "passed", "blocked", "error"]


async def test_clean_posts_not_logged_by_default(policy, rec):
    a = PostguardAddon(policy=policy, store=rec)
    with taddons.context(a) as tctx:
        tctx.configure(a, postguard_workers=0)
        f = make_flow("POST", "https://api.twitter.com/2/tweets", tweet(CLEAN_TEXT), JSONH)
        await run(a, f)
    assert f.response is None and rec.events == [] and f.metadata["postguard"]["action"] == "pass"


async def test_expired_override_page_is_kind_and_has_notice(policy, rec):
    a, _ = make_addon(policy, rec)
    f = await override(a, "www.facebook.com", "no-such-token", "a sufficiently long reason", as_json=False)
    html = f.response.get_text()
    assert f.response.status_code == 410 and "This warning has expired" in html and "P.A. 98-142" in html
    assert "Post anyway" not in html and rec.events == []


@pytest.mark.parametrize("origin,status", [
    ("chrome-extension://abcdefghijklmnopabcdefghijklmnop", 200),   # the extension
    ("https://www.facebook.com", 403),                              # the site's own script
    ("", 403),                                                      # no Origin at all
])
async def test_json_override_origin_restriction(policy, rec, origin, status):
    a, _ = make_addon(policy, rec, postguard_override_origins=["chrome-extension://abcdefghijklmnopabcdefghijklmnop"])
    f1 = make_flow("POST", "https://api.twitter.com/2/tweets", tweet(WARN_TEXT), JSONH)
    await run(a, f1)
    token = json.loads(f1.response.content)["postguard"]["token"]
    f = make_flow("POST", "https://api.twitter.com/__postguard/override",
                  json.dumps({"token": token, "justification": "a sufficiently long reason"}),
                  {**JSONH, **({"origin": origin} if origin else {})})
    await run(a, f)
    assert f.response.status_code == status
    assert ("overridden" in rec.actions()) is (status == 200)


async def test_killed_worker_fails_per_mode_then_recovers(policy, rec):
    """A post in flight when the worker dies gets the fail mode; the next post starts a new worker."""
    import os
    import signal

    a = PostguardAddon(policy=policy, store=rec)
    with taddons.context(a) as tctx:
        tctx.configure(a, postguard_workers=1, postguard_fail_mode="block", postguard_check_timeout_ms=60_000)
        first = make_flow("POST", "https://api.twitter.com/2/tweets", tweet(WARN_TEXT), JSONH)
        await run(a, first)
        w = a.state.checks.workers[0]
        inflight = make_flow("POST", "https://api.twitter.com/2/tweets", tweet(WARN_TEXT), JSONH)
        os.kill(w.proc.pid, signal.SIGSTOP)  # paused: it cannot answer before it is killed
        task = asyncio.create_task(run(a, inflight))
        while not w.pending:  # until the request is written to the worker's pipe
            await asyncio.sleep(0)
        os.kill(w.proc.pid, signal.SIGKILL)
        await task
        await asyncio.wait_for(w._reader, 30)  # the death has been noticed
        after = make_flow("POST", "https://api.twitter.com/2/tweets", tweet(WARN_TEXT), JSONH)
        await run(a, after)
        a.done()
    assert [f.response.status_code for f in (first, inflight, after)] == [403, 503, 403]
    assert rec.actions() == ["warned", "error", "warned"]
    assert "stopped" in rec.events[1].error


@pytest.mark.parametrize("origin,allowed", [
    ("https://www.reddit.com", True),       # a social site's page posting cross-origin to its API
    ("https://evil.example", False),        # any other page gets no CORS grant
    ("http://www.reddit.com", False),       # not over HTTPS
    ("", False),
])
async def test_json_answers_readable_by_the_social_sites_own_pages(policy, rec, origin, allowed):
    a, _ = make_addon(policy, rec)
    headers = {**JSONH, **({"origin": origin} if origin else {})}
    f = make_flow("POST", "https://oauth.reddit.com/api/comment", json.dumps({"text": WARN_TEXT, "thing_id": "t3_abc"}),
                  headers)
    await run(a, f)
    assert f.response is not None and f.response.status_code == 403
    got = f.response.headers.get("access-control-allow-origin")
    assert (got == origin) if allowed else got is None
    if allowed:
        assert f.response.headers["access-control-allow-credentials"] == "true"
        assert "X-Postguard" in f.response.headers["access-control-expose-headers"]


def test_with_check_workers_the_proxy_process_loads_no_rules(rec):
    # The workers check; the proxy process routes, answers and redacts (bench/proxy measures its RSS).
    a = PostguardAddon(store=rec)
    with taddons.context(a) as tctx:
        tctx.configure(a, postguard_workers=1)
        assert a.policy is not None and a.policy.rules == [] and a.policy.data.roster is not None
        tctx.configure(a, postguard_workers=0)
        assert a.policy.rules                      # checking on its own threads needs them
    a.done()
