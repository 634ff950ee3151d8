"""Enrolment with one-time codes and signed requests: accepted, forged, unknown, revoked, stale, replayed."""

from __future__ import annotations

import time
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from server_helpers import chain, cli

from server.client import DeviceClient
from server.signing import H_NONCE, H_TIME, sign_headers


async def test_enrol_uses_a_code_once(server: Any, http: Any) -> None:
    code = server.codes()[0]
    first = DeviceClient(server.url, http)
    ans = await first.enroll(code, hostname="PC-Library-2")
    assert ans.status == 201
    assert ans.body["device_id"].startswith("pc-library-2-")
    assert ans.body["heartbeat_interval"] == 60 and ans.body["policy_digest"] == server.cfg.policy.digest
    again = await DeviceClient(server.url, http).enroll(code)
    assert again.status == 403 and "used or expired" in again.body["error"]
    stored = server.query("SELECT code_hash, used_at, device FROM enrol_codes")
    assert len(stored) == 1 and code not in str(stored) and stored[0]["device"] == first.device


async def test_expired_and_unknown_codes_are_refused(server: Any, http: Any) -> None:
    expired = server.codes(1, seconds=60, now=time.time() - 120)[0]
    assert (await DeviceClient(server.url, http).enroll(expired)).status == 403
    assert (await DeviceClient(server.url, http).enroll("AAAAA-BBBBB-CCCCC-DDDDD")).status == 403
    assert server.query("SELECT COUNT(*) AS n FROM devices")[0]["n"] == 0


@pytest.mark.parametrize("body, field", [
    ({"public_key": "not base64!"}, "public_key"),
    ({"public_key": "AAAA"}, "public_key"),
    ({"hostname": ""}, "hostname"),
    ({"code": None}, "code"),
])
async def test_enrol_bad_input_is_a_clear_400(server: Any, http: Any, body: dict[str, Any], field: str) -> None:
    ok = {"code": server.codes()[0], "public_key": "A" * 43 + "=", "hostname": "pc-1", "agent_version": "t"}
    async with http.post(server.url + "/api/v1/enroll", json={**ok, **body}) as r:
        assert r.status == 400
        assert field in (await r.json())["error"]


async def test_signed_requests_are_accepted(device: Any) -> None:
    d = await device()
    hb = await d.heartbeat()
    assert hb.status == 200 and hb.body["revoked"] is False
    up = await d.send_events(chain(d.device, 3))
    assert up.status == 200 and up.body["stored"] == 3


async def test_forged_signature_is_401(device: Any) -> None:
    d = await device()
    impostor = DeviceClient(d.base, d.session, key=Ed25519PrivateKey.generate(), device=d.device)
    ans = await impostor.heartbeat()
    assert ans.status == 401 and ans.body == {"error": "unauthorized", "reason": "bad-signature"}
    ans = await impostor.send_events(chain(d.device, 1))
    assert ans.status == 401 and ans.body["reason"] == "bad-signature"


async def test_a_body_changed_after_signing_is_401(device: Any) -> None:
    d = await device()
    signed_for = b'{"events": []}'
    headers = sign_headers(d.key, d.device, "POST", "/api/v1/events", signed_for)
    body = b'{"events": [1]}'
    async with d.session.post(d.base + "/api/v1/events", data=body, headers=headers) as r:
        assert r.status == 401 and (await r.json())["reason"] == "bad-signature"


async def test_unknown_device_is_401(server: Any, http: Any) -> None:
    ghost = DeviceClient(server.url, http, device="pc-ghost-00000000")
    ans = await ghost.heartbeat()
    assert ans.status == 401 and ans.body["reason"] == "unknown-device"
    assert (await DeviceClient(server.url, http, device="").heartbeat()).body["reason"] == "unknown-device"


async def test_stale_time_and_replayed_nonce_are_401(device: Any) -> None:
    d = await device()
    old = sign_headers(d.key, d.device, "POST", "/api/v1/heartbeat", b"{}", now=time.time() - 900)
    ans = await d.signed("POST", "/api/v1/heartbeat", {}, headers={H_TIME: old[H_TIME]})
    assert ans.status == 401 and ans.body["reason"] in ("stale", "bad-signature")
    stale = await d.signed("POST", "/api/v1/heartbeat", raw=b"{}", headers=old)
    assert stale.status == 401 and stale.body["reason"] == "stale"
    nonce = "ab" * 16
    assert (await d.signed("POST", "/api/v1/heartbeat", {}, headers={})).status == 200
    h = sign_headers(d.key, d.device, "POST", "/api/v1/heartbeat", b"{}", nonce=nonce)
    assert (await d.signed("POST", "/api/v1/heartbeat", raw=b"{}", headers=h)).status == 200
    again = await d.signed("POST", "/api/v1/heartbeat", raw=b"{}", headers=h)
    assert again.status == 401 and again.body["reason"] == "replay"
    h2 = sign_headers(d.key, d.device, "POST", "/api/v1/heartbeat", b"{}")
    h2[H_NONCE] = "zz"
    assert (await d.signed("POST", "/api/v1/heartbeat", raw=b"{}", headers=h2)).status == 401


async def test_revoked_device_is_401_everywhere(device: Any, server: Any, capsys: Any) -> None:
    d = await device()
    other = await device("pc-lab-2")
    assert (await d.heartbeat()).status == 200  # its key is cached as not revoked
    rc, out, _ = cli(capsys, "devices", "revoke", d.device, "--db", server.cfg.db)
    assert rc == 0 and "revoked" in out
    for ans in (await d.heartbeat(), await d.send_events(chain(d.device, 1)),
                await d.signed("GET", "/api/v1/policy")):
        assert ans.status == 401 and ans.body["reason"] == "revoked", ans
    assert server.query("SELECT COUNT(*) AS n FROM events WHERE device = ?", (d.device,))[0]["n"] == 0
    assert (await other.heartbeat()).status == 200
    rc, out, _ = cli(capsys, "devices", "list", "--db", server.cfg.db)
    assert "REVOKED" in out


async def test_health_and_policy_endpoints(server: Any, http: Any, device: Any) -> None:
    async with http.get(server.url + "/api/v1/health") as r:
        assert r.status == 200 and (await r.json())["ok"] is True
    d = await device()
    ans = await d.signed("GET", "/api/v1/policy")
    assert ans.status == 404 and "published" in ans.body["error"]
    async with http.get(server.url + "/api/v1/policy") as r:
        assert r.status == 401


async def test_database_down_is_503_and_the_server_still_starts(policy: Any, tmp_path: Any, aiohttp_server: Any,
                                                                http: Any) -> None:
    from server import ServerConfig, create_app

    down = "postgresql://postgres@127.0.0.1:1/test"  # nothing listens on port 1
    app = create_app(ServerConfig(db=down, policy=policy, signing_key=tmp_path / "k.key",
                                  spool=tmp_path / "spool.jsonl", sweep_seconds=3600))
    srv = await aiohttp_server(app)
    url = str(srv.make_url("")).rstrip("/")
    async with http.get(url + "/api/v1/health") as r:
        assert r.status == 200
    d = DeviceClient(url, http, device="pc-lab-1-00000000")
    ans = await d.heartbeat()
    assert ans.status == 503 and "retry" in ans.body["error"]
    enrol = await DeviceClient(url, http).enroll("AAAAA-BBBBB-CCCCC-DDDDD")
    assert enrol.status == 503
