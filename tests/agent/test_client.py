"""The signed client: its signatures are what the server's verifier accepts (the contract in
docs/device-api.md, implemented on each side), a wrong clock is corrected, and the URL is checked."""

from __future__ import annotations

import base64
import time
from typing import Any

import aiohttp
import pytest
from agent_helpers import Enrolled, Running

from agent.client import (
    H_SIGNATURE,
    H_TIME,
    DeviceAPI,
    check_server_url,
    enroll,
    public_key_b64,
    signature_headers,
    signed_string,
)
from agent.state import new_key
from server import signing
from server.auth import Unauthorized, Verifier


def test_the_signed_string_is_the_documented_one() -> None:
    body = b'{"events": []}'
    got = signed_string("post", "/api/v1/events?x=1", "1700000000", "ab" * 16, body)
    assert got == signing.signed_string("POST", "/api/v1/events?x=1", "1700000000", "ab" * 16, body)
    assert got.split(b"\n")[:5] == [b"postguard-v1", b"POST", b"/api/v1/events?x=1", b"1700000000", b"ab" * 16]


async def test_the_servers_verifier_accepts_our_signature_and_nothing_altered() -> None:
    key = new_key()
    assert public_key_b64(key) == signing.public_key_b64(key)

    async def lookup(device: str) -> tuple[str, bool] | None:
        return (public_key_b64(key), False) if device == "pc-lab-1-0a1b2c3d" else None

    v = Verifier(lookup)
    body = b'{"events":[]}'
    h = signature_headers(key, "pc-lab-1-0a1b2c3d", "POST", "/api/v1/events", body, time.time())
    assert await v.check("POST", "/api/v1/events", h, body) == "pc-lab-1-0a1b2c3d"
    for method, path, raw in (("POST", "/api/v1/events", b'{"events":[1]}'), ("POST", "/api/v1/heartbeat", body),
                              ("PUT", "/api/v1/events", body)):
        h2 = signature_headers(key, "pc-lab-1-0a1b2c3d", "POST", "/api/v1/events", body, time.time())
        with pytest.raises(Unauthorized) as e:
            await v.check(method, path, h2, raw)
        assert e.value.reason == "bad-signature"
    with pytest.raises(Unauthorized) as e:
        await v.check("POST", "/api/v1/events", h, body)  # the same nonce again
    assert e.value.reason == "replay"
    assert len(base64.b64decode(h[H_SIGNATURE])) == 64


async def test_a_stale_clock_is_corrected_once_and_reported(enrolled: Enrolled, server: Running) -> None:
    e = enrolled
    e.api.clock_offset = 7200.0  # two hours fast
    r = await e.api.heartbeat({"agent_version": "test", "queue_depth": 0})
    assert r.status == 200 and abs(e.api.clock_offset) < 5
    sent: list[str] = []
    real = e.api._send

    async def spy(method: str, path: str, body: bytes, headers: dict[str, str]) -> Any:
        sent.append(headers[H_TIME])
        return await real(method, path, body, headers)

    e.api._send = spy  # type: ignore[method-assign]
    assert (await e.api.heartbeat({})).status == 200
    assert len(sent) == 1 and abs(int(sent[0]) - time.time()) < 5


async def test_an_unknown_device_is_refused_and_not_retried(server: Running, http: aiohttp.ClientSession) -> None:
    api = DeviceAPI(server.url, "pc-nobody-00000000", new_key(), http)
    r = await api.heartbeat({})
    assert r.status == 401 and r.reason == "unknown-device"


async def test_enrolment_with_a_bad_code_is_403(server: Running) -> None:
    r = await enroll(server.url, "AAAAA-BBBBB-CCCCC-DDDDD", new_key(), hostname="pc-lab-1", name=None,
                     agent_version="test")
    assert r.status == 403


@pytest.mark.parametrize("url", ["ftp://server", "server.example", "https://", "https://h/?q=1", "https://h/#x"])
def test_server_urls_are_checked(url: str) -> None:
    with pytest.raises(ValueError, match="server URL"):
        check_server_url(url)


def test_a_server_url_keeps_its_path_without_the_slash() -> None:
    assert check_server_url(" https://postguard.region14.example/ ") == "https://postguard.region14.example"
    assert check_server_url("http://127.0.0.1:8733") == "http://127.0.0.1:8733"
