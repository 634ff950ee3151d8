"""A real `postguard proxy` (mitmproxy) with HTTPS through its CA, in front of a local upstream.

The client asks for the real host names (https://www.facebook.com/...) through the proxy,
as a browser would; a test-only add-on makes the proxy's upstream TCP connection go to the
local aiohttp server (see HOSTMAP_ADDON in conftest), whose certificate the proxy verifies.
"""

from __future__ import annotations

import gzip
import importlib.util
import json
import socket
import ssl
from pathlib import Path

import pytest

_spec = importlib.util.spec_from_file_location("pg_cases_live", Path(__file__).parent / "data" / "cases.py")
cases = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(cases)

HTTP_PAYLOADS = [n for n in cases.names() if n not in cases.WEBSOCKET]
READABLE = [n for n in HTTP_PAYLOADS if cases.EXPECT[n][3] is None]
UNREADABLE = [n for n in HTTP_PAYLOADS if cases.EXPECT[n][3] is not None]


def send(live, https, name, text=None):
    method, url, headers, body = cases.request(name, text)
    return https(live.port, live.ca, method, url, body, {**headers, "sec-fetch-mode": "cors"}), url, body


def path_of(url: str) -> str:
    from urllib.parse import urlsplit
    s = urlsplit(url)
    return s.path + ("?" + s.query if s.query else "")


@pytest.mark.parametrize("name", READABLE)
def test_payload_violating_variant_stopped(live, https, name):
    (status, headers, body), url, sent = send(live, https, name, cases.THREAT)
    assert status == 403, body[:300]
    pg = json.loads(body)["postguard"]
    assert pg["action"] in ("warn", "block") and "conduct" in {f["rule"] for f in pg["findings"]}
    assert sent not in live.upstream.bodies_to(path_of(url))


@pytest.mark.parametrize("name", READABLE)
def test_payload_clean_variant_passed_unchanged(live, https, name):
    (status, _h, body), url, sent = send(live, https, name, cases.CLEAN)
    assert status == 200, body[:300]
    assert sent in live.upstream.bodies_to(path_of(url))  # byte for byte


@pytest.mark.parametrize("name", UNREADABLE)
def test_unreadable_payload_passed_and_logged(live, https, poll, name):
    (status, _h, _b), url, sent = send(live, https, name)
    assert status == 200 and sent in live.upstream.bodies_to(path_of(url))
    assert poll(lambda: any(e["action"] == "logged" and "unreadable" in (e.get("error") or "")
                            and name.split("_")[0] in (e.get("site") or "") for e in live.events()))


def test_fetch_override_flow(live, https, poll):
    url = "https://api.twitter.com/2/tweets"
    text = json.dumps({"text": "You are a worthless idiot and I will hurt you, live override"}).encode()
    h = {"content-type": "application/json", "sec-fetch-mode": "cors"}
    status, _h, body = https(live.port, live.ca, "POST", url, text, h)
    assert status == 403
    pg = json.loads(body)["postguard"]
    status, _h, body = https(live.port, live.ca, "POST", pg["override_url"],
                             json.dumps({"token": pg["token"], "justification": "quoting it to report it"}).encode(),
                             {"content-type": "application/json"})
    assert status == 200 and json.loads(body)["postguard"]["action"] == "overridden"
    assert https(live.port, live.ca, "POST", url, text, h)[0] == 200
    assert https(live.port, live.ca, "POST", url, text, h)[0] == 403  # once only
    assert live.upstream.bodies_to("/2/tweets").count(text) == 1
    assert poll(lambda: any(e["action"] == "overridden" and e.get("justification") == "quoting it to report it"
                            and e.get("request_id") == pg["token"] for e in live.events()))


def test_oversized_body_refused_413(live, https):
    body = json.dumps({"text": "x " * 600_000}).encode()
    status, _h, resp = https(live.port, live.ca, "POST", "https://api.twitter.com/2/tweets", body,
                             {"content-type": "application/json"})
    assert status == 413 and body not in live.upstream.bodies_to("/2/tweets")


def test_gzip_bomb_refused_not_inflated_and_logged(live, https, poll):
    bomb = gzip.compress(b"A" * 40_000_000)  # ~40 KB on the wire, 40 MB inflated (limit 1 MB)
    status, _h, _b = https(live.port, live.ca, "POST", "https://www.reddit.com/api/comment", bomb,
                           {"content-type": "application/x-www-form-urlencoded", "content-encoding": "gzip"})
    # a known posting endpoint: its fail mode (posting_fail_mode, block by default) answers 503
    assert status == 503, "".join(live.proxy.lines[-10:])
    assert poll(lambda: any(e["action"] == "error" and "bomb" in (e.get("error") or "") for e in live.events()))


def test_non_social_post_passes_through_untouched(live, https, poll):
    before = len(live.events())
    body = json.dumps({"text": "You are a worthless idiot and I will hurt you"}).encode()
    status, _h, _b = https(live.port, live.ca, "POST", "https://www.example.org/api/comment", body,
                           {"content-type": "application/json"})
    assert status == 200 and body in live.upstream.bodies_to("/api/comment")
    assert len(live.events()) == before


def _peer_cert(live, host: str) -> bytes:
    """The certificate the client sees for `host` through the proxy (CONNECT, then TLS)."""
    s = socket.create_connection(("127.0.0.1", live.port), timeout=30)
    s.sendall(f"CONNECT {host}:443 HTTP/1.1\r\nHost: {host}:443\r\n\r\n".encode())
    assert s.recv(4096).startswith(b"HTTP/1.1 200")
    ctx = ssl.create_default_context(cafile=str(live.ca))
    with ctx.wrap_socket(s, server_hostname=host) as t:
        return t.getpeercert(binary_form=True)


def test_only_social_hosts_are_decrypted(live):
    upstream_cert = ssl.PEM_cert_to_DER_cert((live.confdir / "upstream-cert.pem").read_text())
    assert _peer_cert(live, "www.example.org") == upstream_cert   # passed through: the server's own cert
    assert _peer_cert(live, "www.facebook.com") != upstream_cert  # intercepted: a cert minted by the proxy


@pytest.mark.parametrize("text,expect_delivered,action", [
    (None, True, None),                       # the clean sample: delivered, nothing logged by default
    (cases.PRIVACY, False, "blocked"),        # student-privacy (block): the message is dropped
])
async def test_messenger_websocket_payload(live, poll, text, expect_delivered, action):
    import aiohttp

    url, msg = cases.ws_message(text)
    ctx = ssl.create_default_context(cafile=str(live.ca))
    before = len(live.upstream.ws_received)
    async with aiohttp.ClientSession() as s:
        async with s.ws_connect(url, proxy=f"http://127.0.0.1:{live.port}", ssl=ctx) as ws:
            await ws.send_bytes(msg)
            await ws.send_bytes(b"\xc0\x00")  # an MQTT PINGREQ after it: delivered either way
            reply = await ws.receive(timeout=30)
            assert reply.data == b"ack"
            await ws.close()
    assert poll(lambda: b"\xc0\x00" in live.upstream.ws_received[before:])
    assert (msg in live.upstream.ws_received[before:]) is expect_delivered
    if action:
        assert poll(lambda: any(e["action"] == action and e.get("kind") == "message"
                                and "edge-chat" in (e.get("site") or "") for e in live.events()))


# Only the text encoder reads this as abuse: the word lists and the linear model pass it.
ENCODER_ONLY = "You are a waste of space"


def test_the_encoder_judges_posts_in_the_proxy_and_can_be_switched_off(live, https, tmp_path_factory):
    live_cls = type(live)  # tests/proxy/conftest.py's Live (several conftest modules share that name)
    payload_hosts = live_cls.__init__.__globals__["payload_hosts"]
    name = "facebook_web_timeline_post"
    (status, _h, body), url, sent = send(live, https, name, ENCODER_ONLY)
    assert status == 403, body[:300]
    assert "conduct" in {f["rule"] for f in json.loads(body)["postguard"]["findings"]}
    off = live_cls(tmp_path_factory.mktemp("live-no-encoder"), payload_hosts(), extra_sets=("postguard_encoder=false",))
    try:
        (status, _h, body), url, sent = send(off, https, name, ENCODER_ONLY)
        assert status == 200, body[:300]
        assert sent in off.upstream.bodies_to(path_of(url))
    finally:
        off.stop()
