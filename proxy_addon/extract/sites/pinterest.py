"""Pinterest: web resource endpoints (PinResource/create, comments) and the v5 API."""

from __future__ import annotations

import re

from proxy_addon.extract.body import Req
from proxy_addon.extract.model import Submission
from proxy_addon.extract.sites.generic import human_texts
from proxy_addon.extract.sites.spec import spec
from proxy_addon.extract.util import dig, first, make, maybe_json, not_submission

PIN = ("pinterest.com",)


@spec("pinterest-resource", PIN, r"^/resource/(\w+)Resource/(create|update)/?$")
def resource(req: Req, m: re.Match[str]) -> Submission | None:
    res = m.group(1)
    if re.search(r"Like|React|Follow|Save|Repin|Log|Track|Search|Visit|Block|Report", res):
        return not_submission(req, "pinterest-resource")
    data = maybe_json(req.fields().get("data", "{}"), "form field data")
    o = dig(data, "options") or {}
    if res in ("Pin", "StoryPin", "VideoPin", "PinCreate"):
        return make(req, "pinterest-resource", "post",
                    [o.get("title"), o.get("description"), o.get("alt_text")],
                    [o.get("link"), o.get("image_url")], first(o.get("board_id")))
    kind = "comment" if "Comment" in res else "message" if re.search("Message|Conversation", res) \
        else "post"
    texts = [o.get("text")] if isinstance(o.get("text"), str) else human_texts(o)
    if not texts:
        return not_submission(req, "pinterest-resource")
    return make(req, "pinterest-resource", kind, texts, target=first(
        o.get("objectId"), o.get("pin_id"), o.get("conversation_id"), o.get("board_id")))


@spec("pinterest-api-v5", PIN, r"^/v5/pins/?$")
def api_v5(req: Req, m: re.Match[str]) -> Submission | None:
    d = req.json if req.kind_of_body() == "json" else {}
    return make(req, "pinterest-api-v5", "post",
                [dig(d, "title"), dig(d, "description"), dig(d, "alt_text")],
                [dig(d, "link"), dig(d, "media_source", "url")], first(dig(d, "board_id")))
