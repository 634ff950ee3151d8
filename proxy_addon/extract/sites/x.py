"""X (Twitter): web GraphQL by operation name (the query id rotates), API v2, v1.1, DMs, uploads."""

from __future__ import annotations

import re

from proxy_addon.extract.body import Req, looks_image
from proxy_addon.extract.model import Submission
from proxy_addon.extract.sites.generic import body_object, human_texts
from proxy_addon.extract.sites.spec import spec
from proxy_addon.extract.util import b64_decode, dig, first, make, not_submission, strs

X = ("x.com", "twitter.com")


@spec("x-graphql", X, r"^/i/api/graphql/[^/]+/(\w+)$")
def graphql(req: Req, m: re.Match[str]) -> Submission | None:
    op = m.group(1)
    body = req.json if req.kind_of_body() == "json" else {}
    v = dig(body, "variables") or {}
    if op in ("CreateTweet", "CreateNoteTweet"):
        reply = first(dig(v, "reply", "in_reply_to_tweet_id"))
        community = first(dig(v, "semantic_annotation_ids", 0, "entity_id"), dig(v, "community_id"))
        return make(req, "x-graphql", "reply" if reply else "post",
                    [dig(v, "tweet_text"), dig(v, "richtext_options", "text")],
                    [dig(v, "attachment_url"), dig(v, "card_uri")], first(reply, community))
    if op == "CreateScheduledTweet":
        r = dig(v, "post_tweet_request") or {}
        return make(req, "x-graphql", "post", [dig(r, "status")],
                    target=first(dig(r, "in_reply_to_status_id")))
    if _QUIET.search(op):
        return not_submission(req, "x-graphql")
    # Any other mutation that carries text publishes it, whatever its name (a renamed
    # "UpsertTweet" or a new "ComposeNote" must not go through unchecked).
    kind = "message" if re.search(r"DM|Message|Conversation|Inbox", op) else (
        "reply" if first(dig(v, "reply", "in_reply_to_tweet_id")) else "post")
    texts = human_texts(v)
    if texts:
        return make(req, "x-graphql", kind, texts,
                    target=first(dig(v, "reply", "in_reply_to_tweet_id"), dig(v, "conversation_id"),
                                 dig(v, "conversationId")))
    return not_submission(req, "x-graphql")


# Operations that publish nothing a person wrote: reactions, bookmarks, follows, reads, deletes,
# settings. Matched on whole CamelCase words, so "Marketing" is not "Mark".
_QUIET = re.compile(
    r"(?:^|(?<=[a-z]))(?:Favorite|Unfavorite|Like|Unlike|Bookmark|Unbookmark|Retweet|Unretweet|Delete|Remove|"
    r"Follow|Unfollow|Mute|Unmute|Block|Unblock|Pin|Unpin|Mark|Read|Seen|Typing|Vote|Report|Hide|Unhide|"
    r"Subscribe|Unsubscribe|Setting|Settings|Preference|Preferences|Log|Impression|Dismiss|Translate|Draft|Drafts)"
    r"(?=[A-Z]|$)")


@spec("x-dm", X, r"^/(?:i/api/)?1\.1/dm/new2?\.json$")
def dm(req: Req, m: re.Match[str]) -> Submission | None:
    d = body_object(req)
    d = d if isinstance(d, dict) else {}  # a JSON scalar or list is no DM either
    ids = d.get("recipient_ids")
    return make(req, "x-dm", "message", [d.get("text")], target=first(
        d.get("conversation_id"), ids.split(",")[0] if isinstance(ids, str) else None))


@spec("x-api-v1", X, r"^/(?:i/api/)?1\.1/statuses/update\.json$")
def api_v1(req: Req, m: re.Match[str]) -> Submission | None:
    d = dict(req.query)
    d.update(req.fields())
    reply = first(d.get("in_reply_to_status_id"))
    return make(req, "x-api-v1", "reply" if reply else "post", [d.get("status")],
                [d.get("attachment_url")], reply)


@spec("x-api-v2", X, r"^/2/tweets/?$")
def api_v2(req: Req, m: re.Match[str]) -> Submission | None:
    d = req.json if req.kind_of_body() == "json" else {}
    reply = first(dig(d, "reply", "in_reply_to_tweet_id"))
    return make(req, "x-api-v2", "reply" if reply else "post", [dig(d, "text")],
                target=first(reply, dig(d, "quote_tweet_id"), dig(d, "community_id")))


@spec("x-api-v2-dm", X, r"^/2/dm_conversations(?:/with/(\w+)/messages|/(\w+)/messages)?/?$")
def api_v2_dm(req: Req, m: re.Match[str]) -> Submission | None:
    d = req.json if req.kind_of_body() == "json" else {}
    return make(req, "x-api-v2-dm", "message", [dig(d, "text"), dig(d, "message", "text")],
                target=first(m.group(2), m.group(1), dig(d, "participant_ids", 0)))


@spec("x-friendship", X, r"^/(?:i/api/)?1\.1/friendships/accept\.json$")
def friendship(req: Req, m: re.Match[str]) -> Submission | None:
    d = dict(req.query)
    d.update(req.fields())
    return make(req, "x-friendship", "connection",
                counterpart=first(d.get("user_id"), d.get("screen_name")))


@spec("x-upload", X, r"^/(?:i|1\.1)/media/upload\.json$")
def upload(req: Req, m: re.Match[str]) -> Submission | None:
    f = dict(req.query)
    cmd = (f.get("command") or "").upper()
    images = req.images()
    if req.kind_of_body() in ("form", "multipart"):
        fields = req.fields()
        cmd = cmd or fields.get("command", "").upper()
        raw = b64_decode(fields.get("media_data", "")) if fields.get("media_data") else None
        if raw and looks_image(raw):
            images.append(("media_data", raw))
    if cmd not in ("", "APPEND") or not images:
        return not_submission(req, "x-upload")
    return make(req, "x-upload", "upload", images=images, texts=strs())
