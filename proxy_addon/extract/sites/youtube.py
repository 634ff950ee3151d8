"""YouTube: the innertube web API (comments, replies, live chat, community posts) and the Data API v3."""

from __future__ import annotations

import re
from typing import Any

from proxy_addon.extract.body import Req
from proxy_addon.extract.model import Submission
from proxy_addon.extract.sites.spec import spec
from proxy_addon.extract.util import (
    b64_decode,
    dig,
    first,
    make,
    maybe_json,
    not_submission,
    pb_fields,
    pb_strings,
    strs,
)

YT = ("youtube.com",)


def video_id(params: str | None) -> str | None:
    """The 11-character video id inside a create-comment params blob (protobuf, field 2)."""
    raw = b64_decode(params) if params else None
    if not raw:
        return None
    for fno, wt, val in pb_fields(raw):
        if wt == 2 and fno == 2 and re.fullmatch(rb"[\w-]{11}", val):
            return val.decode()
    return None


def channel_id(params: str | None) -> str | None:
    """The channel id ("UC...") inside a community-post params blob (protobuf)."""
    raw = b64_decode(params) if params else None
    if not raw:
        return None
    return next((s for s in pb_strings(raw) if re.fullmatch(r"UC[\w-]{20,24}", s)), None)


@spec("youtube-comment", YT, r"^/youtubei/v1/comment/(create_comment|create_comment_reply|update_comment)$")
def comment(req: Req, m: re.Match[str]) -> Submission | None:
    d = req.json if req.kind_of_body() == "json" else {}
    params = first(dig(d, "createCommentParams"), dig(d, "createReplyParams"), dig(d, "updateCommentParams"))
    ref = re.search(r"[?&]v=([\w-]{11})", req.header("referer"))
    kind = "reply" if m.group(1) == "create_comment_reply" else "comment"
    return make(req, "youtube-comment", kind, [dig(d, "commentText")],
                target=first(video_id(params), ref.group(1) if ref else None, params))


@spec("youtube-live-chat", YT, r"^/youtubei/v1/live_chat/send_message$")
def live_chat(req: Req, m: re.Match[str]) -> Submission | None:
    d = req.json if req.kind_of_body() == "json" else {}
    segs = dig(d, "richMessage", "textSegments") or []
    text = "".join(s.get("text", "") for s in segs if isinstance(s, dict))
    return make(req, "youtube-live-chat", "comment", [text], target=first(dig(d, "params")))


@spec("youtube-post", YT, r"^/youtubei/v1/backstage/create_post$")
def post(req: Req, m: re.Match[str]) -> Submission | None:
    d = req.json if req.kind_of_body() == "json" else {}
    params = first(dig(d, "createBackstagePostParams"))
    return make(req, "youtube-post", "post", strs(dig(d, "commentText"), dig(d, "postText")),
                target=first(channel_id(params), params))


# The YouTube Data API v3 (www.googleapis.com / youtube.googleapis.com, `[api_hosts]` in
# social.toml): what third-party tools and scripts post with.
GOOGLEAPIS = ("googleapis.com",)


def _data_api_body(req: Req) -> dict[str, Any]:
    if req.kind_of_body() == "json" and isinstance(req.json, dict):
        return req.json
    if req.kind_of_body() == "multipart":  # a resumable or multipart upload: the JSON metadata part
        for p in req.parts:
            if "json" in p.content_type.lower():
                d = maybe_json(p.text(f"multipart part {p.name!r}"))
                if isinstance(d, dict):
                    return d
    return {}


@spec("youtube-data-api", GOOGLEAPIS,
      r"^/(?:upload/)?youtube/v3/(commentThreads|comments|videos|liveChat/messages|playlists)/?$",
      ("POST", "PUT"))
def data_api(req: Req, m: re.Match[str]) -> Submission | None:
    d = _data_api_body(req)
    sn = dig(d, "snippet") or {}
    res = m.group(1)
    if res == "commentThreads":
        return make(req, "youtube-data-api", "comment", [dig(sn, "topLevelComment", "snippet", "textOriginal")],
                    target=first(dig(sn, "videoId"), dig(sn, "channelId")))
    if res == "comments":
        parent = first(dig(sn, "parentId"))
        return make(req, "youtube-data-api", "reply" if parent else "comment", [dig(sn, "textOriginal")],
                    target=parent)
    if res == "liveChat/messages":
        return make(req, "youtube-data-api", "comment", [dig(sn, "textMessageDetails", "messageText")],
                    target=first(dig(sn, "liveChatId")))
    texts = strs(dig(sn, "title"), dig(sn, "description"))
    if not texts:
        return not_submission(req, "youtube-data-api")
    return make(req, "youtube-data-api", "post", texts, target=first(dig(sn, "channelId"), req.q("channelId")))
