"""Site specs beyond the payload collection: replies, DMs, other API versions, uploads, non-posts."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from urllib.parse import quote, urlencode

import pytest

from proxy_addon.extract import extract, extract_websocket

_spec = importlib.util.spec_from_file_location("pg_cases", Path(__file__).parent / "data" / "cases.py")
cases = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(cases)

T = "Great game tonight, go team!"
JSON = {"content-type": "application/json"}
FORM = {"content-type": "application/x-www-form-urlencoded"}
PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 16


def fb(name: str | None, variables: dict, header: str | None = None, **extra: str) -> tuple:
    fields = {"av": "100001234567890", "__user": "100001234567890", "fb_dtsg": "NAcM:1:2",
              "doc_id": "9999999999", "variables": json.dumps(variables), **extra}
    if name:
        fields["fb_api_req_friendly_name"] = name
    h = {**FORM, **({"x-fb-friendly-name": header} if header else {})}
    return ("POST", "https://www.facebook.com/api/graphql/", h, urlencode(fields))


def multipart(fields: dict[str, str], files: dict[str, tuple[str, bytes]]) -> tuple[dict, bytes]:
    out = b""
    for k, v in fields.items():
        out += f'--BND\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode()
    for k, (fname, data) in files.items():
        out += (f'--BND\r\nContent-Disposition: form-data; name="{k}"; filename="{fname}"\r\n'
                f"Content-Type: image/png\r\n\r\n").encode() + data + b"\r\n"
    return {"content-type": "multipart/form-data; boundary=BND"}, out + b"--BND--\r\n"


def j(method: str, url: str, body: dict) -> tuple:
    return (method, url, JSON, json.dumps(body))


fb_mp_headers, fb_mp_body = multipart(
    {"fb_api_req_friendly_name": "ComposerStoryCreateMutation", "__user": "1",
     "variables": json.dumps({"input": {"message": {"text": T}, "actor_id": "1",
                                        "audience": {"to_id": "555000111222333"}}})}, {})
graph_photo_h, graph_photo_b = multipart({"caption": T, "access_token": "EAAB"}, {"source": ("a.png", PNG)})
discord_h, discord_b = multipart({"payload_json": json.dumps({"content": T})}, {"files[0]": ("b.png", PNG)})

# (label, request, spec, kind, texts, target)
CASES = [
    ("fb multipart, group post", ("POST", "https://www.facebook.com/api/graphql/", fb_mp_headers, fb_mp_body),
     "facebook-graphql", "post", [T], "555000111222333"),
    ("fb friendly name only in the header",
     fb(None, {"input": {"message": {"text": T}, "actor_id": "100001234567890"}}, header="ComposerStoryCreateMutation"),
     "facebook-graphql", "post", [T], "100001234567890"),
    ("fb post as a page (actor differs from user)",
     fb("ComposerStoryCreateMutation", {"input": {"message": {"text": T}, "actor_id": "123456789012345"}}),
     "facebook-graphql", "post", [T], "123456789012345"),
    ("fb reply to a comment",
     fb("useCometUFICreateCommentMutation", {"input": {"message": {"text": T}, "actor_id": "100001234567890",
        "feedback_id": "ZmVlZGJhY2s6MTExXzIyMg=="}}),  # feedback:111_222
     "facebook-graphql", "reply", [T], "111"),
    ("fb comment in a group",
     fb("useCometUFICreateCommentMutation", {"groupID": "555000111222333", "input": {"message": {"text": T},
        "actor_id": "100001234567890", "feedback_id": "ZmVlZGJhY2s6MTEx"}}),
     "facebook-graphql", "comment", [T], "555000111222333"),
    ("fb unknown mutation with text (new build)",
     fb("CometSomethingBrandNewMutation", {"input": {"body": {"text": T}, "client_mutation_id": "3"}}),
     "facebook-graphql", "post", [T], "100001234567890"),
    ("fb friend request confirm",
     fb("FriendingCometFriendRequestConfirmMutation", {"input": {"friend_requester_id": "100007777777777",
        "actor_id": "100001234567890"}}),
     "facebook-graphql", "connection", [], "100001234567890"),
    ("graph api photo upload", ("POST", "https://graph.facebook.com/v19.0/123456789012345/photos", graph_photo_h, graph_photo_b),
     "facebook-graph-api", "post", [T], "123456789012345"),
    ("graph api comment on page post",
     ("POST", "https://graph.facebook.com/v19.0/123456789012345_987/comments", FORM, urlencode({"message": T})),
     "facebook-graph-api", "comment", [T], "123456789012345"),
    ("instagram web comment reply",
     ("POST", "https://www.instagram.com/api/v1/web/comments/3380000000000000000/add/", FORM,
      urlencode({"comment_text": T, "replied_to_comment_id": "1799"})),
     "instagram-comment", "reply", [T], "3380000000000000000"),
    ("instagram DM with a link",
     ("POST", "https://i.instagram.com/api/v1/direct_v2/threads/broadcast/link/", FORM,
      urlencode({"link_text": T + " https://example.com/recap", "link_urls": '["https://example.com/recap"]',
                 "thread_ids": "[340282366841710300949128000000000001]"})),
     "instagram-direct", "message", [T + " https://example.com/recap"], "340282366841710300949128000000000001"),
    ("instagram sidecar with signed body (hex signature)",
     ("POST", "https://i.instagram.com/api/v1/media/configure_sidecar/", FORM,
      "signed_body=" + "ab" * 32 + "." + quote(json.dumps({"caption": T, "_uid": "42", "children_metadata": []}))),
     "instagram-configure", "post", [T], "42"),
    ("threads web on threads.net",
     ("POST", "https://www.threads.net/api/v1/media/configure_text_only_post/", FORM,
      "signed_body=SIGNATURE." + quote(json.dumps({"caption": T, "_uid": "7", "text_post_app_info": {}}))),
     "threads-app", "post", [T], "7"),
    ("x CreateNoteTweet in a community",
     j("POST", "https://x.com/i/api/graphql/NEWID123/CreateNoteTweet",
       {"variables": {"tweet_text": T, "semantic_annotation_ids": [{"entity_id": "1600000000", "group_id": "8"}]}}),
     "x-graphql", "post", [T], "1600000000"),
    ("x DM (web)", j("POST", "https://x.com/i/api/1.1/dm/new2.json",
                     {"conversation_id": "111-222", "recipient_ids": False, "text": T, "request_id": "abc"}),
     "x-dm", "message", [T], "111-222"),
    ("x API v2 DM", j("POST", "https://api.x.com/2/dm_conversations/with/2244994945/messages", {"text": T}),
     "x-api-v2-dm", "message", [T], "2244994945"),
    ("x API v1.1 status", ("POST", "https://api.twitter.com/1.1/statuses/update.json", FORM, urlencode({"status": T})),
     "x-api-v1", "post", [T], None),
    ("linkedin messaging", j("POST", "https://www.linkedin.com/voyager/api/voyagerMessagingDashMessengerMessages?action=createMessage",
                             {"message": {"body": {"text": T, "attributes": []}, "conversationUrn": "urn:li:msg_conversation:(x,2-abc)"},
                              "mailboxUrn": "urn:li:fsd_profile:ABC", "trackingId": "\u0001\u0002", "dedupeByClientGeneratedToken": False}),
     "linkedin-messaging", "message", [T], "urn:li:msg_conversation:(x,2-abc)"),
    ("linkedin graphql share (rotating hash)",
     j("POST", "https://www.linkedin.com/voyager/api/graphql?action=execute&queryId=voyagerContentcreationDashShares.f3a1b2c3",
       {"variables": {"post": {"commentary": {"text": T, "attributesV2": []}, "visibilityDataUnion": {"visibilityType": "ANYONE"}}}}),
     "linkedin-graphql", "post", [T], None),
    ("linkedin v2 ugcPosts as a company page",
     j("POST", "https://api.linkedin.com/v2/ugcPosts",
       {"author": "urn:li:organization:7654321", "lifecycleState": "PUBLISHED",
        "specificContent": {"com.linkedin.ugc.ShareContent": {"shareCommentary": {"text": T}, "shareMediaCategory": "NONE"}}}),
     "linkedin-rest-posts", "post", [T], "urn:li:organization:7654321"),
    ("youtube reply", j("POST", "https://www.youtube.com/youtubei/v1/comment/create_comment_reply?prettyPrint=false",
                        {"context": {"client": {"clientName": "WEB"}}, "commentText": T, "createReplyParams": "Eg0SC2RRdzR3OVdnWGNR"}),
     "youtube-comment", "reply", [T], "Eg0SC2RRdzR3OVdnWGNR"),
    ("youtube live chat", j("POST", "https://www.youtube.com/youtubei/v1/live_chat/send_message",
                            {"richMessage": {"textSegments": [{"text": "Great game "}, {"text": "tonight, go team!"}]},
                             "params": "Q2lrcUp3b1lWVU56"}),
     "youtube-live-chat", "comment", [T], "Q2lrcUp3b1lWVU56"),
    ("reddit reply to a comment (browser field 'parent')",
     ("POST", "https://www.reddit.com/api/comment", FORM, urlencode({"parent": "t1_abc", "text": T, "uh": "x"})),
     "reddit-comment", "reply", [T], "t1_abc"),
    ("reddit richtext comment",
     ("POST", "https://oauth.reddit.com/api/comment/", FORM,
      urlencode({"thing_id": "t3_x", "richtext_json": json.dumps({"document": [{"e": "par", "c": [{"e": "text", "t": T}]}]})})),
     "reddit-comment", "comment", [T], "t3_x"),
    ("reddit compose", ("POST", "https://oauth.reddit.com/api/compose/", FORM,
                        urlencode({"to": "someuser", "subject": "Game", "text": T})),
     "reddit-compose", "message", ["Game", T], "someuser"),
    ("reddit gallery", j("POST", "https://oauth.reddit.com/api/submit_gallery_post.json",
                         {"sr": "sports", "title": T, "items": [{"caption": "Second half", "media_id": "abc", "outbound_url": "https://example.com/x"}]}),
     "reddit-gallery", "post", [T, "Second half"], "sports"),
    ("reddit new-site graphql", j("POST", "https://gql.reddit.com/",
                                  {"operationName": "CreatePost", "variables": {"input": {"subredditName": "sports", "title": T,
                                   "content": {"markdown": "Final score 3-2"}}}}),
     "reddit-graphql", "post", [T, "Final score 3-2"], "sports"),
    ("tiktok comment text in the query",
     ("POST", "https://www.tiktok.com/api/comment/publish/?aweme_id=7380000000000000001&text=" + quote(T) + "&msToken=x&X-Bogus=y",
      FORM, ""),
     "tiktok-comment", "comment", [T], "7380000000000000001"),
    ("mastodon form on any host, direct message",
     ("POST", "https://toot.example.net/api/v1/statuses", FORM,
      urlencode([("status", T), ("visibility", "direct"), ("poll[options][]", "Yes please"), ("poll[options][]", "No way")])),
     "mastodon-status", "message", [T, "Yes please", "No way"], None),
    ("mastodon edit", ("PUT", "https://mastodon.online/api/v1/statuses/1100", JSON, json.dumps({"status": T, "in_reply_to_id": "99"})),
     "mastodon-status", "reply", [T], "99"),
    ("bluesky chat on a self-hosted PDS",
     j("POST", "https://pds.example.net/xrpc/chat.bsky.convo.sendMessage", {"convoId": "3kconvo", "message": {"text": T}}),
     "bluesky", "message", [T], "3kconvo"),
    ("bluesky applyWrites",
     j("POST", "https://bsky.social/xrpc/com.atproto.repo.applyWrites",
       {"repo": "did:plc:me", "writes": [{"$type": "com.atproto.repo.applyWrites#create", "collection": "app.bsky.feed.post",
                                           "value": {"text": T, "createdAt": "2024-06-01T20:00:00Z"}}]}),
     "bluesky", "post", [T], "did:plc:me"),
    ("pinterest comment", ("POST", "https://www.pinterest.com/resource/AggregatedCommentResource/create/", FORM,
                           urlencode({"data": json.dumps({"options": {"objectId": "55", "pinId": "66", "text": T}})})),
     "pinterest-resource", "comment", [T], "55"),
    ("pinterest v5 API", j("POST", "https://api.pinterest.com/v5/pins", {"board_id": "77", "title": T, "link": "https://example.com/recap"}),
     "pinterest-api-v5", "post", [T], "77"),
    ("discord multipart with a file and a reply",
     ("POST", "https://discord.com/api/v9/channels/42/messages", discord_h, discord_b),
     "discord-message", "message", [T], "42"),
    ("discord thread", j("POST", "https://discord.com/api/v10/channels/42/threads", {"name": "Game night", "message": {"content": T}}),
     "discord-thread", "post", ["Game night", T], "42"),
]


@pytest.mark.parametrize(("label", "req", "spec", "kind", "texts", "target"), CASES, ids=[c[0] for c in CASES])
def test_site_shapes(label, req, spec, kind, texts, target, policy):
    method, url, headers, body = req
    sub = extract(method, url, headers, body.encode() if isinstance(body, str) else body, policy)
    assert sub is not None
    assert (sub.spec, sub.kind, sub.texts, sub.target) == (spec, kind, texts, target)


def test_uploads_carry_images(policy):
    sub = extract("POST", "https://graph.facebook.com/v19.0/123456789012345/photos", graph_photo_h, graph_photo_b, policy)
    assert sub.images == [("a.png", PNG)]
    sub = extract("POST", "https://discord.com/api/v9/channels/42/messages", discord_h, discord_b, policy)
    assert sub.images == [("b.png", PNG)]
    h, b = multipart({"source": "8", "profile_id": "1"}, {"farr": ("c.png", PNG)})
    sub = extract("POST", "https://upload.facebook.com/ajax/react_composer/attachments/photo/upload?av=1", h, b, policy)
    assert (sub.kind, sub.images) == ("upload", [("c.png", PNG)])
    sub = extract("POST", "https://i.instagram.com/rupload_igphoto/1717_0_123",
                  {"content-type": "application/octet-stream", "x-entity-name": "1717_0_123"}, PNG, policy)
    assert (sub.kind, sub.images) == ("upload", [("1717_0_123", PNG)])
    h, b = multipart({"command": "APPEND", "media_id": "1", "segment_index": "0"}, {"media": ("blob", PNG)})
    sub = extract("POST", "https://upload.x.com/i/media/upload.json?command=APPEND", h, b, policy)
    assert (sub.kind, sub.images) == ("upload", [("blob", PNG)])


@pytest.mark.parametrize("req", [
    fb("CometUFIFeedbackReactMutation", {"input": {"feedback_reaction_id": "1"}}),
    fb("CometNewsFeedPaginationQuery", {"count": 10}),
    fb("CometUFICommentSeenMutation", {"input": {}}),
    fb("CometBrandNewSettingsThingMutation", {"input": {"enabled": True}}),  # unknown, no text
    j("POST", "https://x.com/i/api/graphql/q/CreateRetweet", {"variables": {"tweet_id": "1"}}),
    j("POST", "https://x.com/i/api/graphql/q/DeleteTweet", {"variables": {"tweet_id": "1"}}),
    j("POST", "https://x.com/i/api/graphql/q/CreateBookmark", {"variables": {"tweet_id": "1"}}),
    ("POST", "https://i.instagram.com/api/v1/media/338_1/like/", FORM, "media_id=338_1"),
    ("POST", "https://i.instagram.com/api/v1/direct_v2/threads/broadcast/reaction/", FORM, "reaction_type=like"),
    j("POST", "https://www.linkedin.com/voyager/api/voyagerMessagingDashMessengerMessages?action=typing", {"conversationUrn": "x"}),
    j("POST", "https://www.linkedin.com/voyager/api/graphql?action=execute&queryId=voyagerSocialDashReactions.abc",
      {"variables": {"entity": {"reactionType": "LIKE"}}}),
    j("POST", "https://gql.reddit.com/", {"operationName": "UpdatePostVoteState", "variables": {"input": {"postId": "t3_x", "voteState": "UP"}}}),
    ("POST", "https://www.pinterest.com/resource/PinLikeResource/create/", FORM, urlencode({"data": '{"options": {"pin_id": "1"}}'})),
    j("POST", "https://bsky.social/xrpc/com.atproto.repo.createRecord", {"repo": "d", "collection": "app.bsky.graph.follow", "record": {"subject": "did:plc:x"}}),
    ("POST", "https://web.snapchat.com/messagingcoreservice.MessagingCoreService/SyncConversations",
     {"content-type": "application/grpc-web+proto"}, b"\x00\x00\x00\x00\x02\x08\x01"),
])
def test_non_submissions(req, policy):
    method, url, headers, body = req
    assert extract(method, url, headers, body.encode() if isinstance(body, str) else body, policy) is None


def test_tiktok_dm_without_json_content_is_unreadable(policy):
    url = "https://im-api.tiktok.com/v1/message/send?aid=1988"
    sub = extract("POST", url, {"content-type": "application/x-protobuf"}, cases.tiktok_dm_body(None), policy)
    assert sub.kind == "message" and sub.texts == [] and "protobuf" in sub.unreadable
    sub = extract("POST", url, {"content-type": "application/x-protobuf"}, cases.tiktok_dm_body(T), policy)
    assert sub.texts == [T] and sub.unreadable is None


def test_messenger_websocket(policy):
    url, msg = cases.ws_message()
    ping = b"\xc0\x00"  # PINGREQ first, then the PUBLISH, in one websocket message
    sub = extract_websocket(url, ping + msg, policy)
    assert (sub.kind, sub.texts, sub.target) == ("message", [T], "100009876543210")
    # other topics and non-social hosts publish nothing
    assert extract_websocket(url, cases.mqtt_publish("/t_ms", b"{}"), policy) is None
    assert extract_websocket("wss://chat.example.org/ws", msg, policy) is None
    # an encrypted send task: unreadable, not guessed
    enc = json.dumps({"payload": json.dumps({"tasks": [{"label": "46", "payload": json.dumps(
        {"thread_id": 5, "encrypted_payload": "AAAA"})}]})})
    sub = extract_websocket(url, cases.mqtt_publish("/ls_req", enc.encode()), policy)
    assert sub.texts == [] and "encrypted" in sub.unreadable
    sub = extract_websocket(url, cases.mqtt_publish("/ls_req", b"\x00\x01binary"), policy)
    assert "not JSON" in sub.unreadable


@pytest.mark.parametrize(("url", "field"), [
    ("https://upload.facebook.com/ajax/react_composer/attachments/photo/upload?av=1", "farr"),
    ("https://graph.facebook.com/v19.0/me/photos", "source"),
    ("https://discord.com/api/v9/channels/42/messages", "files[0]"),
])
def test_uploaded_district_logo_fires_and_other_images_do_not(url, field, policy):
    from checker import check
    from proxy_addon.extract import as_post

    logo = (Path(__file__).resolve().parents[2] / "policies/region14/logos/region14-shield.png").read_bytes()
    h, b = multipart({}, {field: ("x.png", logo)})
    assert "district-logo" in check(as_post(extract("POST", url, h, b, policy)), policy).fired
    # an upload that is not a decodable image is dropped, not a checker error
    h, b = multipart({}, {field: ("y.png", PNG)})
    assert list(check(as_post(extract("POST", url, h, b, policy)), policy).fired) == []


@pytest.mark.parametrize(("req", "account"), [
    (fb("ComposerStoryCreateMutation", {"input": {"message": {"text": T}, "actor_id": "100001234567890",
                                                  "audience": {"to_id": "555000111222333"}}}), "sponsored"),
    (fb("ComposerStoryCreateMutation", {"input": {"message": {"text": T}, "actor_id": "123456789012345"}}), "sponsored"),
    (fb("ComposerStoryCreateMutation", {"input": {"message": {"text": T}, "actor_id": "100001234567890"}}), "personal"),
    (j("POST", "https://api.linkedin.com/rest/posts", {"author": "urn:li:organization:7654321", "commentary": T}), "sponsored"),
    (j("POST", "https://api.linkedin.com/rest/posts", {"author": "urn:li:person:AbC123xyz", "commentary": T}), "personal"),
])
def test_target_decides_the_account(req, account, policy):
    from checker import check
    from proxy_addon.extract import as_post

    method, url, headers, body = req
    assert check(as_post(extract(method, url, headers, body.encode(), policy)), policy).account == account


def test_youtube_community_post_targets_the_channel(policy):
    import base64

    from checker import check
    from proxy_addon.extract import as_post

    params = base64.urlsafe_b64encode(cases.pb_field(1, cases.pb_field(2, b"UCregion14schools000000"))).decode()
    sub = extract(*j("POST", "https://www.youtube.com/youtubei/v1/backstage/create_post",
                     {"commentText": cases.PRIVACY, "createBackstagePostParams": params})[:3],
                  json.dumps({"commentText": cases.PRIVACY, "createBackstagePostParams": params}).encode(), policy)
    assert (sub.kind, sub.target) == ("post", "UCregion14schools000000")
    assert check(as_post(sub), policy).account == "sponsored"
