"""Test data for extraction and replay: the payload table, variants, non-submissions, HAR building.

The payload files are copies of /work/shared/payloads (made-up ids and tokens). Student
names come from the fictional roster in policies/region14/students.csv.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_plus

HERE = Path(__file__).resolve().parent
PAYLOADS = HERE / "payloads"
SAMPLE = "Great game tonight, go team!"

# Violating replacements for the sample text (no quotes or backslashes, so they nest anywhere).
PRIVACY = "Mason Brandt was suspended for three days after the fight."
THREAT = "I am going to kill you at the game tomorrow."
CLEAN = "Proud of everyone who came out to cheer tonight."

# name -> (spec, kind, target, unreadable reason fragment or None)
EXPECT: dict[str, tuple[str, str, str | None, str | None]] = {
    "bluesky_post_createrecord": ("bluesky", "reply", "at://did:plc:zzzz/app.bsky.feed.post/3kroot", None),
    "discord_message_send_webclient": ("discord-message", "message", "112233445566778899", None),
    "facebook_graph_page_feed": ("facebook-graph-api", "post", "123456789012345", None),
    "facebook_messenger_send_mqtt_ws": ("meta-mqtt", "message", "100009876543210", None),
    "facebook_web_comment": ("facebook-graphql", "comment", "1234567890123456", None),
    "facebook_web_timeline_post": ("facebook-graphql", "post", "100001234567890", None),
    "instagram_comment": ("instagram-comment", "comment", "3380000000000000000_1234567890", None),
    "instagram_dm_text": ("instagram-direct", "message", "340282366841710300949128000000000000", None),
    "instagram_post_configure": ("instagram-configure", "post", None, None),
    "linkedin_official_rest_posts": ("linkedin-rest-posts", "post", "urn:li:person:AbC123xyz", None),
    "linkedin_voyager_comment": ("linkedin-comment", "comment", "urn:li:activity:7200000000000000000", None),
    "linkedin_voyager_post_normshares": ("linkedin-share", "post", None, None),
    "mastodon_status_webui": ("mastodon-status", "post", None, None),
    "pinterest_pin_create": ("pinterest-resource", "post", "123456789012345678", None),
    "reddit_comment": ("reddit-comment", "comment", "t3_1abcde", None),
    "reddit_submit_self": ("reddit-submit", "post", "nba", None),
    "snapchat_web_chat_send": ("snapchat-chat", "message", None, "end-to-end encrypted"),
    "threads_post_app_api": ("threads-app", "reply", "3380000000000000000", None),
    "tiktok_comment_publish": ("tiktok-comment", "comment", "7380000000000000000", None),
    "tiktok_dm_send": ("tiktok-dm", "message", "0:1:1234567890:9876543210", None),
    "twitter_api_v2_create_tweet": ("x-api-v2", "reply", "1789999999999999999", None),
    "twitter_create_tweet": ("x-graphql", "reply", "1789999999999999999", None),
    "youtube_comment_create": ("youtube-comment", "comment", "dQw4w9WgXcQ", None),
}

# Expected attached/inline links per payload (at least these).
LINKS = {
    "bluesky_post_createrecord": "https://example.com/recap",
    "facebook_graph_page_feed": "https://example.com/recap",
    "facebook_web_timeline_post": "https://example.com/recap",
    "pinterest_pin_create": "https://example.com/recap",
    "threads_post_app_api": "https://example.com/recap",
    "twitter_create_tweet": "https://example.com/recap",
}

WEBSOCKET = {"facebook_messenger_send_mqtt_ws"}
BINARY = {"snapchat_web_chat_send", "tiktok_dm_send"}  # bodies in the files are descriptions


def names() -> list[str]:
    """Every payload file's stem."""
    return sorted(p.stem for p in PAYLOADS.glob("*.json"))


def load(name: str) -> dict[str, Any]:
    """One payload file."""
    return json.loads((PAYLOADS / f"{name}.json").read_text())


def encodings(text: str) -> list[str]:
    """The ways the payloads write the sample: literal, form (+), encodeURIComponent, %-all."""
    return [text, quote_plus(text), quote(text, safe="!'()*~"), quote(text, safe="")]


def substitute(body: str, new: str) -> str:
    """`body` with the sample text replaced by `new`, in whatever encoding the body uses."""
    for old_enc, new_enc in zip(encodings(SAMPLE), encodings(new), strict=True):
        if old_enc in body:
            return body.replace(old_enc, new_enc)
    raise AssertionError("sample text not found in body")


def mqtt_publish(topic: str, payload: bytes) -> bytes:
    """An MQTT 3.1.1 PUBLISH packet (QoS 1, packet id 1)."""
    t = topic.encode()
    var = len(t).to_bytes(2, "big") + t + b"\x00\x01" + payload
    n, length = len(var), b""
    while True:
        byte, n = n % 128, n // 128
        length += bytes([byte | (0x80 if n else 0)])
        if not n:
            break
    return bytes([0x32]) + length + var


def pb_field(no: int, value: bytes | int) -> bytes:
    """One protobuf field (length-delimited bytes or a varint)."""
    def varint(n: int) -> bytes:
        out = b""
        while True:
            b, n = n & 0x7F, n >> 7
            out += bytes([b | (0x80 if n else 0)])
            if not n:
                return out
    if isinstance(value, int):
        return varint(no << 3) + varint(value)
    return varint(no << 3 | 2) + varint(len(value)) + value


def tiktok_dm_body(text: str | None) -> bytes:
    """A TikTok IM send request as the web client builds it (content = JSON string with 'text')."""
    content = json.dumps({"aweme_id": "", "text": text}) if text is not None else "\x01\x02binary"
    body = (pb_field(1, b"0:1:1234567890:9876543210") + pb_field(2, 1)
            + pb_field(8, content.encode()) + pb_field(9, b"client-msg-1"))
    return pb_field(1, 100) + pb_field(8, pb_field(100, body))


def request(name: str, text: str | None = None) -> tuple[str, str, dict[str, str], bytes]:
    """(method, url, headers, wire body) for a payload, the sample replaced by `text` if given."""
    p = load(name)
    url = p["url"].split(" ")[0]
    headers = dict(p["headers"])
    if name == "tiktok_dm_send":
        return "POST", url.replace("&msToken=...&X-Bogus=...", ""), headers, tiktok_dm_body(text or SAMPLE)
    if name == "snapchat_web_chat_send":
        # gRPC-Web frame: flag byte, length, opaque (encrypted) protobuf
        blob = pb_field(1, b"\x8a\x01\x93encrypted\xff") + pb_field(3, b"\x00\x10\x20")
        return "POST", url, headers, b"\x00" + len(blob).to_bytes(4, "big") + blob
    body = p["body"] if text is None else substitute(p["body"], text)
    return p["method"], url, headers, body.encode()


def ws_message(text: str | None = None) -> tuple[str, bytes]:
    """(url, websocket message) for the Messenger MQTT payload."""
    p = load("facebook_messenger_send_mqtt_ws")
    body = p["body"] if text is None else substitute(p["body"], text)
    return "wss://edge-chat.facebook.com/chat?region=prn", mqtt_publish("/ls_req", body.encode())


# Requests to social hosts that publish nothing: (label, method, url, headers, body).
NON_SUBMISSIONS: list[tuple[str, str, str, dict[str, str], str]] = [
    ("page GET", "GET", "https://www.facebook.com/NonnewaugAthletics", {}, ""),
    ("search GET", "GET", "https://x.com/search?q=go%20team&src=typed_query", {}, ""),
    ("search POST", "POST", "https://www.linkedin.com/voyager/api/search/dash/clusters",
     {"content-type": "application/json"}, '{"keywords": "Great game tonight, go team"}'),
    ("fb reaction", "POST", "https://www.facebook.com/api/graphql/",
     {"content-type": "application/x-www-form-urlencoded"},
     "fb_api_req_friendly_name=CometUFIFeedbackReactMutation&variables=%7B%22input%22%3A%7B%22feedback_reaction_id%22%3A%221635855486666999%22%7D%7D&doc_id=1"),
    ("fb read query", "POST", "https://www.facebook.com/api/graphql/",
     {"content-type": "application/x-www-form-urlencoded"},
     "fb_api_req_friendly_name=CometNewsFeedPaginationQuery&variables=%7B%22count%22%3A3%7D&doc_id=2"),
    ("x like", "POST", "https://x.com/i/api/graphql/lI07N6Otwv1PhnEgXILM7A/FavoriteTweet",
     {"content-type": "application/json"}, '{"variables": {"tweet_id": "1789999999999999999"}, "queryId": "lI07N6Otwv1PhnEgXILM7A"}'),
    ("reddit vote", "POST", "https://www.reddit.com/api/vote", {"content-type": "application/x-www-form-urlencoded"},
     "id=t3_1abcde&dir=1&rank=2"),
    ("telemetry beacon", "POST", "https://www.facebook.com/ajax/bz",
     {"content-type": "application/x-www-form-urlencoded"},
     "q=%5B%7B%22user%22%3A%22100001234567890%22%2C%22page_id%22%3A%22abc123%22%2C%22posts%22%3A%5B%5B%22ods%3Ams.time_spent%22%2C%7B%22message%22%3A%22Great%20game%20tonight%2C%20go%20team%21%22%7D%5D%5D%7D%5D&ts=1717272000123"),
    ("linkedin tracking", "POST", "https://www.linkedin.com/li/track", {"content-type": "application/json"},
     '[{"eventBody": {"text": "Great game tonight, go team!"}, "eventInfo": {"eventName": "PageViewEvent"}}]'),
    ("bluesky like", "POST", "https://bsky.social/xrpc/com.atproto.repo.createRecord",
     {"content-type": "application/json"},
     '{"repo": "did:plc:abc", "collection": "app.bsky.feed.like", "record": {"subject": {"uri": "at://x"}}}'),
    ("not social", "POST", "https://www.example.org/api/comment", {"content-type": "application/json"},
     '{"text": "I am going to kill you at the game tomorrow."}'),
]


def har_entry(method: str, url: str, headers: dict[str, str], body: bytes | str | None,
              ws: list[bytes] | None = None) -> dict[str, Any]:
    """A HAR 1.2 entry as Chrome saves it (binary bodies base64, websocket frames under _webSocketMessages)."""
    req: dict[str, Any] = {"method": method, "url": url, "httpVersion": "HTTP/2.0",
                           "headers": [{"name": k, "value": v} for k, v in headers.items()],
                           "queryString": [], "cookies": [], "headersSize": -1, "bodySize": 0}
    if body:
        raw = body.encode() if isinstance(body, str) else body
        post: dict[str, Any] = {"mimeType": headers.get("content-type", "")}
        try:
            post["text"] = raw.decode("utf-8")
            if "\x00" in post["text"]:
                raise UnicodeDecodeError("utf-8", raw, 0, 1, "nul")
        except UnicodeDecodeError:
            post["text"], post["encoding"] = base64.b64encode(raw).decode(), "base64"
        req["postData"] = post
        req["bodySize"] = len(raw)
    entry: dict[str, Any] = {"startedDateTime": "2024-06-01T20:00:00.000Z", "time": 10, "request": req,
                             "response": {"status": 200, "statusText": "OK", "httpVersion": "HTTP/2.0",
                                          "headers": [], "cookies": [], "content": {"size": 0, "mimeType": ""},
                                          "redirectURL": "", "headersSize": -1, "bodySize": 0},
                             "cache": {}, "timings": {"send": 0, "wait": 0, "receive": 0}}
    if ws is not None:
        entry["_resourceType"] = "websocket"
        entry["_webSocketMessages"] = [{"type": "send", "time": 1717272000.1, "opcode": 2,
                                        "data": base64.b64encode(m).decode()} for m in ws]
    return entry


def har(entries: list[dict[str, Any]]) -> dict[str, Any]:
    """A HAR 1.2 document."""
    return {"log": {"version": "1.2", "creator": {"name": "postguard tests", "version": "1"},
                    "entries": entries}}


def payload_entries(text: str | None = None) -> list[tuple[str, dict[str, Any]]]:
    """(payload name, HAR entry) for every payload, the sample replaced by `text` if given."""
    out = []
    for name in names():
        if name in WEBSOCKET:
            url, msg = ws_message(text)
            out.append((name, har_entry("GET", url.replace("wss:", "https:"), {}, None, ws=[msg])))
        else:
            method, url, headers, body = request(name, text)
            out.append((name, har_entry(method, url, headers, body)))
    return out


def build_fixture() -> dict[str, Any]:
    """The committed fixture: every payload as captured, then the non-submissions."""
    entries = [e for _, e in payload_entries()]
    entries += [har_entry(m, u, h, b) for _, m, u, h, b in NON_SUBMISSIONS]
    return har(entries)


if __name__ == "__main__":  # regenerate tests/proxy/data/payloads.har
    (HERE / "payloads.har").write_text(json.dumps(build_fixture(), indent=1) + "\n")
