"""Issue 16, "posts missed with no trace": operation names, batches, hosts, websockets, TLS failures."""

from __future__ import annotations

import asyncio
import json
import re
from types import SimpleNamespace
from urllib.parse import urlencode

import pytest
from mitmproxy.addonmanager import traverse
from mitmproxy.test import taddons, tflow

from proxy_addon.addon import PostguardAddon, social_hosts_regex
from proxy_addon.extract import extract, is_social_host

PRIVACY = "Tyler Quinlan failed the chemistry final again"
JSONH = {"content-type": "application/json"}
FORM = {"content-type": "application/x-www-form-urlencoded"}


def x_op(op: str, variables: dict) -> tuple[str, bytes]:
    return f"https://x.com/i/api/graphql/Qid123/{op}", json.dumps({"variables": variables, "queryId": "Qid123"}).encode()


@pytest.mark.parametrize("op", ["UpsertTweet", "ComposeNote", "TweetCreate", "CreateTweet", "EditTweet"])
def test_x_mutations_with_text_are_posts_whatever_their_name(policy, op):
    url, body = x_op(op, {"tweet_text": PRIVACY, "dark_request": False})
    sub = extract("POST", url, JSONH, body, policy)
    assert sub is not None and sub.kind == "post" and sub.texts == [PRIVACY]


@pytest.mark.parametrize("op", ["FavoriteTweet", "DeleteTweet", "CreateBookmark", "CreateRetweet", "MarkRead"])
def test_x_quiet_mutations_publish_nothing(policy, op):
    url, body = x_op(op, {"tweet_id": "1789999999999999999"})
    assert extract("POST", url, JSONH, body, policy) is None


def fb(name: str, inp: dict) -> bytes:
    return urlencode({"fb_api_req_friendly_name": name, "__user": "100001234567890",
                      "variables": json.dumps({"input": inp})}).encode()


@pytest.mark.parametrize("name", [
    "CometMarketplaceComposerCreateMutation",   # "Mark" inside "Marketplace"
    "ComposerSaveAndPublishStoryMutation",      # a quiet word, yet it carries a message
    "CometGroupDiscussionMarkdownPostMutation",
    "useCometSavedPostShareMutation",
])
def test_facebook_names_with_quiet_words_are_still_read(policy, name):
    sub = extract("POST", "https://www.facebook.com/api/graphql/", FORM,
                  fb(name, {"message": {"text": PRIVACY}}), policy)
    assert sub is not None and sub.kind is not None and sub.texts == [PRIVACY]


@pytest.mark.parametrize("name", ["CometUFIFeedbackReactMutation", "MarkThreadReadMutation",
                                  "CometSaveItemMutation", "useCometUFISubscribeMutation"])
def test_facebook_quiet_mutations_without_text(policy, name):
    assert extract("POST", "https://www.facebook.com/api/graphql/", FORM,
                   fb(name, {"feedback_id": "ZmVlZGJhY2s6MTIz", "client_mutation_id": "1"}), policy) is None


def test_graph_api_batch(policy):
    batch = [{"method": "GET", "relative_url": "me"},
             {"method": "POST", "relative_url": "v19.0/123456789012345/feed",
              "body": urlencode({"message": PRIVACY, "link": "https://example.com/recap"})},
             {"method": "POST", "relative_url": "123456789012345_987/comments?message=Well+done+everyone"}]
    body = urlencode({"access_token": "EAAB", "batch": json.dumps(batch)}).encode()
    sub = extract("POST", "https://graph.facebook.com/", FORM, body, policy)
    assert sub.spec == "facebook-graph-batch" and sub.kind == "post" and sub.target == "123456789012345"
    assert sub.texts == [PRIVACY, "Well done everyone"] and "https://example.com/recap" in sub.links
    reads = urlencode({"batch": json.dumps([{"method": "GET", "relative_url": "me/feed"}])}).encode()
    assert extract("POST", "https://graph.facebook.com/v19.0", FORM, reads, policy) is None


def test_bluesky_pds_hosts_are_social_and_decrypted(policy):
    host = "morel.us-east.host.bsky.network"
    assert is_social_host(host, policy)
    assert re.search(social_hosts_regex(policy), f"{host}:443")
    body = json.dumps({"repo": "did:plc:abc", "collection": "app.bsky.feed.post",
                       "record": {"$type": "app.bsky.feed.post", "text": PRIVACY, "createdAt": "2026-12-01T10:00:00Z"}})
    sub = extract("POST", f"https://{host}/xrpc/com.atproto.repo.createRecord", JSONH, body.encode(), policy)
    assert sub.spec == "bluesky" and sub.texts == [PRIVACY]


def test_youtube_data_api_on_googleapis(policy):
    body = {"snippet": {"videoId": "dQw4w9WgXcQ", "topLevelComment": {"snippet": {"textOriginal": PRIVACY}}}}
    url = "https://www.googleapis.com/youtube/v3/commentThreads?part=snippet"
    sub = extract("POST", url, JSONH, json.dumps(body).encode(), policy)
    assert sub.spec == "youtube-data-api" and sub.kind == "comment" and sub.target == "dQw4w9WgXcQ"
    assert sub.texts == [PRIVACY]
    reply = {"snippet": {"parentId": "UgzAbc", "textOriginal": PRIVACY}}
    sub = extract("POST", "https://youtube.googleapis.com/youtube/v3/comments?part=snippet", JSONH,
                  json.dumps(reply).encode(), policy)
    assert sub.kind == "reply" and sub.target == "UgzAbc"
    # only the YouTube paths of that host are social; other Google APIs are not looked at
    regex = social_hosts_regex(policy)
    assert re.search(regex, "www.googleapis.com:443") and not re.search(regex, "gmail.googleapis.com:443")
    assert not is_social_host("www.googleapis.com", policy, "/drive/v3/files")
    assert extract("POST", "https://www.googleapis.com/drive/v3/files", JSONH,
                   json.dumps({"name": PRIVACY}).encode(), policy) is None


def test_discordapp_com(policy):
    sub = extract("POST", "https://discordapp.com/api/v9/channels/112233445566778899/messages", JSONH,
                  json.dumps({"content": PRIVACY}).encode(), policy)
    assert sub.spec == "discord-message" and sub.texts == [PRIVACY]


@pytest.mark.parametrize("url,body", [
    ("https://app.hootsuite.com/api/2/messages", {"text": PRIVACY, "socialProfileIds": ["123"]}),
    ("https://publish.buffer.com/rpc/composerApiProxy", {"args": {"text": PRIVACY, "profile_ids": ["5f0"]}}),
    ("https://api.bufferapp.com/1/updates/create.json", {"text": PRIVACY}),
    ("https://app.later.com/api/posts", {"caption": PRIVACY}),
    ("https://app.sproutsocial.com/api/publishing/messages", {"message": {"text": PRIVACY}}),
    ("https://business.facebook.com/api/graphql/", None),
])
def test_social_media_schedulers(policy, url, body):
    if body is None:
        sub = extract("POST", url, FORM, fb("BusinessComposerCreatePostMutation", {"message": {"text": PRIVACY}}),
                      policy)
    else:
        sub = extract("POST", url, JSONH, json.dumps(body).encode(), policy)
    assert sub is not None and PRIVACY in sub.texts


async def hook(a, name, arg) -> None:
    for part in traverse([a]):
        fn = getattr(part, name, None)
        if fn is not None and asyncio.iscoroutine(result := fn(arg)):
            await result


async def test_websocket_message_over_the_limit_is_dropped_and_logged(policy, rec):
    from mitmproxy import websocket
    from wsproto.frame_protocol import Opcode

    a = PostguardAddon(policy=policy, store=rec)
    with taddons.context(a) as tctx:
        tctx.configure(a, postguard_workers=0, postguard_max_body_bytes=1000)
        f = tflow.tflow(ws=True)
        f.request.url = "https://edge-chat.facebook.com/chat"
        f.request.host = "edge-chat.facebook.com"
        f.websocket.messages.append(websocket.WebSocketMessage(Opcode.BINARY, True, b"x" * 5000))
        await hook(a, "websocket_message", f)
    assert f.websocket.messages[-1].dropped
    assert rec.actions() == ["error"] and "exceeds the limit" in rec.events[0].error


async def test_refused_interception_of_a_social_host_is_logged(policy, rec):
    a = PostguardAddon(policy=policy, store=rec)
    with taddons.context(a) as tctx:
        tctx.configure(a, postguard_workers=0)

        def failed(sni: str):
            return SimpleNamespace(context=SimpleNamespace(client=SimpleNamespace(sni=sni)),
                                   conn=SimpleNamespace(error="Client TLS handshake failed: certificate unknown"))

        await hook(a, "tls_failed_client", failed("www.instagram.com"))
        await hook(a, "tls_failed_client", failed("www.instagram.com"))   # again soon: once is enough
        await hook(a, "tls_failed_client", failed("mail.example.org"))    # not social: not ours
    assert rec.actions() == ["error"]
    e = rec.events[0]
    assert e.site == "www.instagram.com" and "not inspected" in e.error and "certificate unknown" in e.error
