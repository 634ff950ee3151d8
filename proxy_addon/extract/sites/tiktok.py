"""TikTok: web comments (text in the body or the signed query) and IM direct messages (protobuf)."""

from __future__ import annotations

import json
import re

from proxy_addon.extract.body import Req
from proxy_addon.extract.model import Submission
from proxy_addon.extract.sites.spec import spec
from proxy_addon.extract.util import first, make, pb_strings, unreadable

TT = ("tiktok.com",)


@spec("tiktok-comment", TT, r"^/api/comment/publish/?$")
def comment(req: Req, m: re.Match[str]) -> Submission | None:
    # Web requests are signed (X-Bogus, msToken): the text may sit in the query instead of the body.
    f = dict(req.query)
    if req.kind_of_body() in ("form", "multipart", "json"):
        f.update(req.fields())
    reply = first(f.get("reply_id"), f.get("reply_to_reply_id"))
    return make(req, "tiktok-comment", "reply" if reply else "comment", [f.get("text")],
                target=first(f.get("aweme_id"), reply))


@spec("tiktok-dm", TT, r"^/v\d+/message/send/?$")
def dm(req: Req, m: re.Match[str]) -> Submission | None:
    # Protobuf without a schema; the message content is a JSON string inside it. Read only
    # that JSON's own text fields; when there is none, say so rather than guess.
    texts, conv = [], None
    for s in pb_strings(req.body):
        if s.startswith("{") and s.endswith("}"):
            try:
                obj = json.loads(s)
            except ValueError:
                continue
            if isinstance(obj, dict) and isinstance(obj.get("text"), str):
                texts.append(obj["text"])
        elif conv is None and re.fullmatch(r"0:1:\d+:\d+|\d{15,}", s):
            conv = s
    if not texts:
        return unreadable(req, "tiktok-dm", "message",
                          "binary protobuf (TikTok IM): no JSON message content found", conv)
    return make(req, "tiktok-dm", "message", texts, target=conv)
