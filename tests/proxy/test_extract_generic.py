"""The generic extractor: human text on social endpoints no spec covers; near misses yield nothing."""

from __future__ import annotations

import base64
import json

import pytest

from proxy_addon.extract import extract, is_social_host
from proxy_addon.extract.sites.generic import is_tokenish, looks_human

JSON = {"content-type": "application/json"}
FORM = {"content-type": "application/x-www-form-urlencoded"}
TEXT = "Mason Brandt was suspended for three days after the fight."


@pytest.mark.parametrize(("host", "path", "social"), [
    ("www.facebook.com", None, True),
    ("m.facebook.com", None, True),
    ("WWW.FACEBOOK.COM.", None, True),
    ("i.instagram.com", None, True),
    ("api.twitter.com", None, True),
    ("www.linkedin.com:443", None, True),
    ("facebook.com.evil.example", None, False),
    ("notfacebook.com", None, False),
    ("www.example.org", None, False),
    ("ctreg14.org", None, False),
    ("toot.example.net", None, False),
    ("toot.example.net", "/api/v1/statuses", True),
    ("pds.example.net", "/xrpc/com.atproto.repo.createRecord", True),
    ("toot.example.net", "/api/v1/timelines/home", False),
    ("", None, False),
])
def test_is_social_host(host, path, social, policy):
    assert is_social_host(host, policy, path) is social


@pytest.mark.parametrize(("url", "body", "kind"), [
    # endpoints no spec knows, on social hosts: text under text-like keys, any nesting
    ("https://www.tumblr.com/api/v2/blog/x/posts", {"content": [{"type": "text", "text": TEXT}]}, "post"),
    ("https://nextdoor.com/api/gql/CreatePost", {"variables": {"input": {"body": TEXT}}}, "post"),
    ("https://medium.com/_/api/posts/abc/comments", {"deltas": [{"paragraph": {"text": TEXT}}]}, "comment"),
    ("https://www.facebook.com/new/endpoint", {"payload": json.dumps({"msg_body": TEXT})}, "post"),
    ("https://www.linkedin.com/voyager/api/newMessagingThing", {"m": {"note": TEXT}}, "message"),
    ("https://www.reddit.com/svc/shreddit/comment-reply", {"data": {"markdown": TEXT}}, "reply"),
    # GraphQL mutation with the text in variables
    ("https://www.tiktok.com/api/graphql", {"query": "mutation M($t: String) { post(t: $t) }",
                                           "variables": {"caption": TEXT}}, "post"),
])
def test_generic_finds_human_text(url, body, kind, policy):
    sub = extract("POST", url, JSON, json.dumps(body).encode(), policy)
    assert sub is not None and sub.spec == "generic"
    assert sub.texts == [TEXT]
    assert sub.kind == kind


def test_generic_form_and_multipart(policy):
    sub = extract("POST", "https://www.tumblr.com/svc/post/update", FORM,
                  b"form_key=a1B2c3D4e5F6g7H8&post%5Bone%5D=" + TEXT.replace(" ", "+").encode(), policy)
    assert sub.texts == [TEXT]
    mp = ("--B\r\nContent-Disposition: form-data; name=\"csrf\"\r\n\r\nZm9vYmFyYmF6cXV4MTIzNDU2Nzg5\r\n"
          f"--B\r\nContent-Disposition: form-data; name=\"caption\"\r\n\r\n{TEXT}\r\n"
          "--B\r\nContent-Disposition: form-data; name=\"photo\"; filename=\"a.png\"\r\n"
          "Content-Type: image/png\r\n\r\n\x89PNG\r\n\x1a\nxx\r\n--B--\r\n").encode("latin-1")
    sub = extract("POST", "https://www.tumblr.com/svc/post/create", {"content-type": "multipart/form-data; boundary=B"},
                  mp, policy)
    assert sub.texts == [TEXT]
    assert sub.images == [("a.png", b"\x89PNG\r\n\x1a\nxx")]


TOKEN = "EAABsbCS1iHgBAKZC0ZAZAxYzQ2ZBZCZAsample"
B64 = base64.b64encode(b"Mason Brandt was suspended for three days" * 2).decode()

NEAR_MISSES = [
    # machine-made values under any key
    {"access_token": TOKEN, "fb_dtsg": "NAcMsample_fbdtsg:27:1717270000", "lsd": "AVqsample_lsd"},
    {"id": "1789999999999999999", "uuid": "5b2d1c8e-1111-2222-3333-444455556666"},
    {"hash": "d41d8cd98f00b204e9800998ecf8427e", "ts": "2024-06-01T20:00:00.000Z"},
    {"surface": "DEDICATED_COMMENTING_SURFACE", "caller": "RelayModern", "entry": "inline_composer"},
    {"attribution_id_v2": "CometHomeRoot.react,comet.home,via_cold_start,1718688700413,194880"},
    {"target": "urn:li:activity:7200000000000000000", "repo": "did:plc:abcdefghijklmnopqrstuvwx"},
    {"href": "https://example.com/recap", "next": "https://www.facebook.com/NonnewaugAthletics"},
    {"ua": "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126"},
    {"user_agent": "Mozilla/5.0 (Windows NT 10.0; Win64; x64) Gecko/20100101 Firefox/127.0"},
    {"data": "key1=value1; key2=value2; path=/a/b/c; domain=.facebook.com"},
    {"enc": "fb_api_req_friendly_name=ComposerStoryCreateMutation&doc_id=4762364973863293"},
    {"n": 3, "flag": True, "empty": "", "nothing": None, "ws": "   "},
]


def test_base64_of_text_is_read(policy):
    # Text hidden in base64 (issue 16: posts missed with no trace) is decoded and read.
    sub = extract("POST", "https://www.tumblr.com/svc/unknown/endpoint", JSON,
                  json.dumps({"blob": B64, "id": "1789999999999999999"}).encode(), policy)
    assert sub is not None and sub.texts == ["Mason Brandt was suspended for three days" * 2]


@pytest.mark.parametrize("body", NEAR_MISSES)
def test_near_misses_yield_no_text(body, policy):
    assert extract("POST", "https://www.tumblr.com/svc/unknown/endpoint", JSON,
                   json.dumps(body).encode(), policy) is None


@pytest.mark.parametrize(("method", "url", "body"), [
    ("GET", "https://www.facebook.com/NonnewaugAthletics", {"text": TEXT}),
    ("POST", "https://www.tumblr.com/api/v2/search", {"q": TEXT, "text": TEXT}),
    ("POST", "https://www.tumblr.com/svc/typeahead/tags", {"text": TEXT}),
    ("POST", "https://www.tumblr.com/svc/like", {"text": TEXT}),
    ("POST", "https://www.tumblr.com/api/v2/user/like", {"text": TEXT}),
    ("POST", "https://www.tumblr.com/svc/reactions/add", {"text": TEXT}),
    ("POST", "https://www.facebook.com/ajax/bz", {"q": [{"message": TEXT}]}),
    ("POST", "https://www.tumblr.com/services/logging", {"message": TEXT}),
    ("POST", "https://www.tumblr.com/api/analytics/v1/events", {"text": TEXT}),
    ("POST", "https://www.tumblr.com/telemetry", {"text": TEXT}),
    ("POST", "https://www.tumblr.com/svc/beacon", {"text": TEXT}),
    ("POST", "https://www.tumblr.com/metrics/ping", {"text": TEXT}),
    ("POST", "https://www.tumblr.com/csp-report", {"csp-report": {"text": TEXT}}),
    ("POST", "https://www.tumblr.com/mark_read", {"text": TEXT}),
    ("POST", "https://www.tumblr.com/api/graphql", {"query": "query Q { feed { text } }", "variables": {"text": TEXT}}),
    ("POST", "https://www.example.org/api/comments", {"text": TEXT}),  # not a social host
])
def test_not_submissions(method, url, body, policy):
    assert extract(method, url, JSON, json.dumps(body).encode(), policy) is None


def test_binary_body_on_unknown_endpoint_is_not_guessed(policy):
    assert extract("POST", "https://www.tumblr.com/svc/x", {"content-type": "application/x-protobuf"},
                   b"\x0a\x05hello\x12\x03abc", policy) is None


@pytest.mark.parametrize(("value", "token"), [
    ("1789999999999999999", True), (TOKEN, True), (B64, True), ("t3_1abcde", True),
    ("DEDICATED_COMMENTING_SURFACE", True), ("RelayModern", True), ("abc123", True),
    ("urn:li:person:AbC123xyz", True), ("2024-06-01T20:00:00.000Z", True),
    ("lol", False), ("Congrats!", False), ("go team", False), ("WOW", False),
])
def test_is_tokenish(value, token):
    assert is_tokenish(value) is token


@pytest.mark.parametrize(("value", "text_key", "human"), [
    ("lol", True, True), ("lol", False, False), ("see you all at the game", False, True),
    ("https://example.com/a https://example.com/b", True, False), ("12345", True, False),
    ("a b c d e", False, False),
])
def test_looks_human(value, text_key, human):
    assert looks_human(value, text_key) is human
