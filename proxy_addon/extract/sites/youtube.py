"""YouTube (innertube web API): comments, replies, live chat, community posts."""

from __future__ import annotations

import re

from proxy_addon.extract.body import Req
from proxy_addon.extract.model import Submission
from proxy_addon.extract.sites.spec import spec
from proxy_addon.extract.util import b64_decode, dig, first, make, pb_fields, pb_strings, strs

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
