"""The backend's security matrix and its routes, through aiohttp's test client."""

from __future__ import annotations

import json

import pytest

from extension.backend import EXTENSION_ID, TOKEN_HEADER, BackendConfig, create_app
from extension.backend.security import host_ok

TOKEN = "test-token-0123456789abcdef"
ORIGIN = f"chrome-extension://{EXTENSION_ID}"
GOOD = {"Origin": ORIGIN, TOKEN_HEADER: TOKEN}
VIOLATION = "Tyler Quinlan failed the chemistry final again"
NEEDS_DISCLAIMER = "Nonnewaug Chargers kickoff tonight at 7pm!"


@pytest.fixture
async def client(aiohttp_client, policy, log):
    """A test client against a backend with a small rate limit and body cap."""
    cfg = BackendConfig(policy=policy, token=TOKEN, store=log, max_body_bytes=64 * 1024,
                        rate_per_second=5, rate_burst=30)
    return await aiohttp_client(create_app(cfg))


def _body(text: str = NEEDS_DISCLAIMER, **kw) -> dict:
    return {"text": text, "site": "www.facebook.com", **kw}


@pytest.mark.parametrize("headers,status", [
    ({}, 403),                                                                   # no Origin
    ({"Origin": "https://www.facebook.com", TOKEN_HEADER: TOKEN}, 403),          # a web page
    ({"Origin": "null", TOKEN_HEADER: TOKEN}, 403),                              # sandboxed frame / file:
    ({"Origin": "chrome-extension://" + "a" * 32, TOKEN_HEADER: TOKEN}, 403),    # another extension
    ({"Origin": ORIGIN + "/", TOKEN_HEADER: TOKEN}, 403),                        # near miss: not exact
    ({"Origin": ORIGIN.upper(), TOKEN_HEADER: TOKEN}, 403),                      # near miss: case
    ({"Origin": ORIGIN}, 401),                                                   # no token
    ({"Origin": ORIGIN, TOKEN_HEADER: TOKEN + "x"}, 401),                        # wrong token
    ({"Origin": ORIGIN, TOKEN_HEADER: TOKEN[:-1]}, 401),                         # prefix of the token
    ({"Origin": ORIGIN, TOKEN_HEADER: TOKEN, "Host": "evil.example:8731"}, 421),  # DNS rebinding
    ({"Origin": ORIGIN, TOKEN_HEADER: TOKEN, "Host": "127.0.0.1.evil.example"}, 421),
    ({"Origin": ORIGIN, TOKEN_HEADER: TOKEN, "Host": "localhost.evil.example:80"}, 421),
    (GOOD, 200),
])
async def test_check_security_matrix(client, headers, status):
    r = await client.post("/v1/check", json=_body(), headers=headers)
    assert r.status == status, await r.text()
    if status != 200:
        assert "error" in await r.json()
        assert r.headers.get("Access-Control-Allow-Origin") in (None, ORIGIN)
    assert r.headers.get("Access-Control-Allow-Origin") != "*"


@pytest.mark.parametrize("path", ["/v1/policy", "/v1/events", "/v1/check"])
async def test_web_page_preflight_is_rejected(client, path):
    r = await client.options(path, headers={"Origin": "https://evil.example",
                                            "Access-Control-Request-Method": "POST",
                                            "Access-Control-Request-Headers": "content-type"})
    assert r.status == 403
    assert "Access-Control-Allow-Origin" not in r.headers


async def test_extension_preflight_gets_exact_origin(client):
    r = await client.options("/v1/check", headers={"Origin": ORIGIN, "Access-Control-Request-Method": "POST"})
    assert r.status == 204
    assert r.headers["Access-Control-Allow-Origin"] == ORIGIN


@pytest.mark.parametrize("host,port,ok", [
    ("127.0.0.1:8731", 8731, True), ("localhost:8731", 8731, True), ("[::1]:8731", 8731, True),
    ("127.0.0.1", 8731, True), ("127.0.0.1:9999", 8731, False), ("127.0.0.2:8731", 8731, False),
    ("attacker.example:8731", 8731, False), ("localhost.:8731", 8731, False), (None, 0, False),
    ("127.0.0.1:abc", 0, False), ("127.0.0.1:1234", 0, True),
])
def test_host_check(host, port, ok):
    assert host_ok(host, port) is ok


@pytest.mark.parametrize("data,ctype,status,needle", [
    (b"{not json", "application/json", 400, "not valid JSON"),
    (b"\xff\xfe{}", "application/json", 400, "not UTF-8"),
    (b"[]", "application/json", 400, "body: must be object"),
    (json.dumps({"site": "x.com"}).encode(), "application/json", 400, "body.text: required"),
    (json.dumps(_body(links="https://a.example")).encode(), "application/json", 400, "body.links: must be array"),
    (json.dumps(_body(links=[1])).encode(), "application/json", 400, "body.links[0]: must be string"),
    (json.dumps(_body(kind="shout")).encode(), "application/json", 400, "body.kind: must be one of"),
    (json.dumps(_body(surprise=1)).encode(), "application/json", 400, "unknown field 'surprise'"),
    (json.dumps(_body(text="x" * 100_001)).encode(), "application/json", 413, "larger than"),
    (json.dumps(_body(images=[{"name": "a.png", "data": "@@@"}])).encode(), "application/json", 400, "not base64"),
    (b"text=hi", "application/x-www-form-urlencoded", 415, "application/json"),
])
async def test_bad_bodies_get_clear_errors(client, data, ctype, status, needle):
    r = await client.post("/v1/check", data=data, headers={**GOOD, "Content-Type": ctype})
    assert r.status == status
    body = await r.json()
    assert needle in json.dumps(body)


async def test_oversized_chunked_body_is_refused(client):
    async def gen():
        for _ in range(100):
            yield b"x" * 1024
    r = await client.post("/v1/check", data=gen(), headers={**GOOD, "Content-Type": "application/json"})
    assert r.status == 413


async def test_rate_limit(aiohttp_client, policy, log):
    cfg = BackendConfig(policy=policy, token=TOKEN, store=log, rate_per_second=0.01, rate_burst=3)
    c = await aiohttp_client(create_app(cfg))
    codes = [(await c.get("/v1/policy", headers=GOOD)).status for _ in range(5)]
    assert codes == [200, 200, 200, 429, 429]


@pytest.mark.parametrize("text,rule,clause", [
    (NEEDS_DISCLAIMER, "missing-disclaimer", "P2"),
    (VIOLATION, "student-privacy", "P5"),
])
async def test_check_explains_and_highlights(client, text, rule, clause):
    r = await client.post("/v1/check", json=_body(text), headers=GOOD)
    v = await r.json()
    f = next(f for f in v["findings"] if f["rule"] == rule)
    assert f["clause"] == clause and f["clause_text"] and f["explanation"]
    a, b = f["span"]
    assert text[a:b] == f["excerpt"]
    assert [a, b] in v["highlights"]
    assert len(v["request_id"]) == 32


# Fictional posts. (text, the highlighted words of its one finding)
@pytest.mark.parametrize("text,words", [
    ("You are an idiot, a moron and a loser.", ["You are an idiot", "moron", "loser"]),  # a pattern + insult words
    ("You are an idiot, so stupid and pathetic.", ["You are an idiot", "stupid", "pathetic"]),  # insult adjectives
    ("What a fat ugly day. You useless idiot", ["You useless", "idiot"]),  # other sentences: not marked
    ("Those parents are idiots, morons and losers", ["idiots", "morons", "losers"]),  # the text model's evidence
    ("Go Nonnewaug Chargers! Nonnewaug Chargers all the way", ["Nonnewaug Chargers"] * 2),  # the excerpt again
])
async def test_check_returns_every_span_of_a_finding(client, text, words):
    r = await client.post("/v1/check", json=_body(text), headers=GOOD)
    v = await r.json()
    [f] = v["findings"]
    assert [text[a:b] for a, b in f["spans"]] == words
    assert f["span"] in f["spans"] and text[slice(*f["span"])] == f["excerpt"]
    assert v["highlights"] == f["spans"]
    if f["rule"] == "conduct":
        assert all(f"“{w}”" in f["explanation"] for w in words)


async def test_check_spans_are_code_points_on_the_text_sent(client):
    text = "🎉🎉 You idiot. You moron."  # astral characters before the spans (fictional)
    v = await (await client.post("/v1/check", json=_body(text), headers=GOOD)).json()
    assert [[text[a:b] for a, b in f["spans"]] for f in v["findings"]] == [["You idiot"], ["You moron"]]


async def test_check_clean_and_fix_text(client, policy):
    r = await client.post("/v1/check", json=_body("Lovely sunset over the lake tonight."), headers=GOOD)
    assert (await r.json())["action"] == "pass"
    r = await client.post("/v1/check", json=_body(NEEDS_DISCLAIMER), headers=GOOD)
    f = (await r.json())["findings"][0]
    assert f["fix_text"] == policy.district.disclaimer_fix
    r = await client.post("/v1/check", json=_body(NEEDS_DISCLAIMER + " " + policy.district.disclaimer_fix), headers=GOOD)
    assert (await r.json())["action"] == "pass"


async def test_sponsored_target_decides_account(client):
    body = _body("Vote for John Smith for state senate!", target="https://www.facebook.com/NonnewaugAthletics")
    v = await (await client.post("/v1/check", json=body, headers=GOOD)).json()
    assert v["account"] == "sponsored" and "prohibited-purpose" in v["fired"]
    v = await (await client.post("/v1/check", json=_body("Vote for John Smith for state senate!"), headers=GOOD)).json()
    assert v["account"] == "personal" and "prohibited-purpose" not in v["fired"]


async def test_policy_and_healthz(client, policy):
    p = await (await client.get("/v1/policy", headers=GOOD)).json()
    assert p == await (await client.post("/v1/policy", json={}, headers=GOOD)).json()
    assert (await client.post("/v1/policy", json={})).status == 403  # still no Origin, no answer
    assert p["notice"] == policy.data.notice and p["clauses"]["P2"]
    assert "facebook.com" in p["social_hosts"] and p["actions"]["conduct"]["sponsored"] == "block"
    assert "Quinlan" not in json.dumps(p)  # the roster never leaves the device
    r = await client.get("/healthz")  # curl-able without an Origin
    assert r.status == 200
    r = await client.get("/healthz", headers={"Origin": "https://evil.example"})
    assert r.status == 403


async def test_events_are_logged_with_recomputed_findings(client, log):
    ev = {"choice": "overridden", "text": NEEDS_DISCLAIMER, "site": "www.facebook.com",
          "justification": "My own page, I will add it later", "url": "https://www.facebook.com/me?x=1"}
    r = await client.post("/v1/events", json=ev, headers=GOOD)
    assert r.status == 201
    e = log.events[-1]
    assert (e.source, e.action, e.justification) == ("extension", "overridden", ev["justification"])
    assert [f["rule"] for f in e.findings] == ["missing-disclaimer"]


@pytest.mark.parametrize("choice,action", [
    ("edited", "edited"), ("cancelled", "cancelled"), ("posted-clean", "passed"), ("unchecked", "error"),
])
async def test_event_choices(client, log, choice, action):
    r = await client.post("/v1/events", json={"events": [
        {"choice": choice, "text": VIOLATION, "site": "x.com", "queued": True}]}, headers=GOOD)
    assert r.status == 201
    assert log.events[-1].action == action
    assert (log.events[-1].error is not None) is (choice == "unchecked")


@pytest.mark.parametrize("ev,needle", [
    ({"choice": "overridden", "text": "hi", "site": "x.com"}, "justification: Please give a reason of at least 10"),
    ({"choice": "overridden", "text": "hi", "site": "x.com", "justification": "   ok      "}, "at least 10 characters"),
    ({"choice": "shrug", "text": "hi", "site": "x.com"}, "choice: must be one of"),
    ({"events": [{"choice": "edited", "site": "x.com"}]}, "body.events[0].text: required"),
])
async def test_bad_events(client, log, ev, needle):
    r = await client.post("/v1/events", json=ev, headers=GOOD)
    assert r.status == 400 and needle in json.dumps(await r.json())
    assert log.events == []


async def test_an_event_the_log_cannot_keep_is_not_acknowledged(aiohttp_client, policy, log):
    """Neither the database nor the spool takes it: 503 and no id, so the extension keeps it."""
    from store.writer import NotDurable, Pending

    def unkept(event):
        log.append(event)
        p = Pending("u1", None, None)
        p.future.set_exception(NotDurable("database down and spool disk full"))
        return p

    log.submit = unkept
    client = await aiohttp_client(create_app(BackendConfig(policy=policy, token=TOKEN, store=log)))
    r = await client.post("/v1/events", json={"choice": "edited", "text": "hi", "site": "x.com"}, headers=GOOD)
    assert r.status == 503 and "ids" not in await r.json()


async def test_a_batch_sent_again_is_stored_once(client, log):
    """The extension sends its queue again when no answer came (the 201 lost, a timeout, a 503
    after part of the batch was kept): a choice already logged for the same check (request id)
    gets the same id and is not stored twice; records without a request id always are."""
    batch = {"events": [{"choice": "edited", "text": "fixed it", "site": "x.com", "request_id": "r-1"},
                        {"choice": "cancelled", "text": "never mind", "site": "x.com", "request_id": "r-2"},
                        {"choice": "edited", "text": "", "site": "x.com", "queued": True}]}
    first = await client.post("/v1/events", json=batch, headers=GOOD)
    again = await client.post("/v1/events", json=batch, headers=GOOD)
    assert first.status == again.status == 201
    a, b = (await first.json())["ids"], (await again.json())["ids"]
    assert a[:2] == b[:2] and a[2] != b[2]
    assert len(log.events) == 4  # two choices once each, the record without a request id twice
    other = {"choice": "overridden", "text": "fixed it", "site": "x.com", "request_id": "r-1",
             "justification": "This is my own classroom page"}
    assert (await client.post("/v1/events", json=other, headers=GOOD)).status == 201
    assert len(log.events) == 5  # another choice on the same check is a new event


async def test_a_batch_sent_again_after_a_restart_is_stored_once(aiohttp_client, policy, tmp_path):
    """The same batch to a backend restarted on the same log (a new process: nothing in memory):
    the choices it already logged are answered with their logged ids and not stored again."""
    db = str(tmp_path / "log.sqlite")
    batch = {"events": [{"choice": "edited", "text": "fixed it", "site": "x.com", "request_id": "r-1"},
                        {"choice": "cancelled", "text": "never mind", "site": "x.com", "request_id": "r-2"}]}
    ids = []
    for _ in range(2):  # the second app is the backend after a restart
        c = await aiohttp_client(create_app(BackendConfig(policy=policy, token=TOKEN, db=db)))
        r = await c.post("/v1/events", json=batch, headers=GOOD)
        assert r.status == 201
        ids.append((await r.json())["ids"])
        await c.close()
    assert ids[0] == ids[1]
    from enforce import log_config
    from store import open_store
    st = open_store(db, log_config(policy))
    try:
        rows, _more = st.list_events(limit=10)
        assert sorted(r["uid"] for r in rows) == sorted(ids[0])
    finally:
        st.close()


async def test_events_land_in_the_real_log(aiohttp_client, policy, tmp_path):
    """Through the store (SQLite): the override, its justification and the clause are kept."""
    db = str(tmp_path / "log.sqlite")
    cfg = BackendConfig(policy=policy, token=TOKEN, db=db)
    app = create_app(cfg)
    c = await aiohttp_client(app)
    ev = {"choice": "overridden", "text": NEEDS_DISCLAIMER, "site": "www.facebook.com",
          "justification": "It is my personal page, views are mine"}
    assert (await c.post("/v1/events", json=ev, headers=GOOD)).status == 201
    await c.close()  # cleanup closes the store, which writes what is queued
    from enforce import log_config
    from store import open_store
    st = open_store(db, log_config(policy))
    try:
        rows, _more = st.list_events(limit=10)
        assert len(rows) == 1
        row = st.get_event(rows[0]["uid"])
        assert (row["source"], row["action"], row["justification"]) == ("extension", "overridden", ev["justification"])
        assert "missing-disclaimer" in json.dumps(row["rules"] if "rules" in row else row)
    finally:
        st.close()


async def test_repeated_check_gets_a_fresh_request_id(client):
    a = await (await client.post("/v1/check", json=_body(), headers=GOOD)).json()
    b = await (await client.post("/v1/check", json=_body(), headers=GOOD)).json()
    assert a["request_id"] != b["request_id"]
    assert {k: v for k, v in a.items() if k != "request_id"} == {k: v for k, v in b.items() if k != "request_id"}


async def test_queued_batch_is_logged_in_order(client, log):
    batch = {"events": [{"choice": c, "text": t, "site": "www.facebook.com", "queued": True}
                        for c, t in [("unchecked", VIOLATION), ("unchecked", "Lovely sunset."), ("edited", NEEDS_DISCLAIMER)]]}
    r = await client.post("/v1/events", json=batch, headers=GOOD)
    assert r.status == 201 and len((await r.json())["ids"]) == 3
    assert [(e.action, [f["rule"] for f in e.findings]) for e in log.events] == [
        ("error", ["student-privacy"]), ("error", []), ("edited", ["missing-disclaimer"])]


async def test_a_redacted_queued_record_is_logged_as_not_checked(client, log):
    """What the extension queues while nothing answered keeps no text and no reason (sw.js
    `redacted`): logged with its choice, no findings, and the note it carries."""
    note = "overridden, recorded while postguard was unreachable (46 characters; the text is not kept)"
    batch = {"events": [{"choice": "overridden", "text": "", "site": "x.com", "queued": True, "error": note},
                        {"choice": "unchecked", "text": "", "site": "x.com", "queued": True}]}
    r = await client.post("/v1/events", json=batch, headers=GOOD)
    assert r.status == 201, await r.text()
    assert [(e.action, e.findings, e.justification, e.error) for e in log.events] == [
        ("overridden", [], None, note), ("error", [], None, "not checked when posted: the backend was unreachable")]
    # Not queued, an override still needs its reason, text or none.
    r = await client.post("/v1/events", json={"choice": "overridden", "text": "", "site": "x.com"}, headers=GOOD)
    assert r.status == 400
