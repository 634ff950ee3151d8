"""Mastodon (/api/v1/statuses) and Bluesky (XRPC createRecord, chat) on any host."""

from __future__ import annotations

import re
from typing import Any

from proxy_addon.extract.body import Req
from proxy_addon.extract.model import Submission
from proxy_addon.extract.sites.spec import spec
from proxy_addon.extract.util import dig, first, make, not_submission

ANY: tuple[str, ...] = ()


def _mastodon_fields(req: Req) -> dict[str, Any]:
    if req.kind_of_body() == "json":
        return req.json if isinstance(req.json, dict) else {}
    out: dict[str, Any] = {}
    pairs = req.form if req.kind_of_body() == "form" else [(p.name, p.text(p.name)) for p in req.parts
                                                            if p.filename is None]
    for k, v in pairs:
        if k in ("poll[options][]", "media_ids[]"):
            out.setdefault(k[:-2].replace("[options]", ""), []).append(v)
        else:
            out.setdefault(k, v)
    return out


@spec("mastodon-status", ANY, r"^/api/v1/statuses(?:/(\d+))?/?$", ("POST", "PUT"))
def mastodon_status(req: Req, m: re.Match[str]) -> Submission | None:
    if req.kind_of_body() not in ("json", "form", "multipart"):
        return None
    d = _mastodon_fields(req)
    if "status" not in d and "media_ids" not in d and "poll" not in d:
        return None
    poll = d.get("poll")
    options = dig(poll, "options") if isinstance(poll, dict) else poll
    reply = first(d.get("in_reply_to_id"))
    kind = "message" if d.get("visibility") == "direct" else "reply" if reply else "post"
    return make(req, "mastodon-status", kind, [d.get("spoiler_text"), d.get("status"), options or []],
                target=reply)


_BSKY_KINDS = {"app.bsky.feed.post": "post"}


def _bsky_record(req: Req, coll: Any, rec: Any, repo: Any) -> Submission:
    if coll not in _BSKY_KINDS or not isinstance(rec, dict):
        return not_submission(req, "bluesky")  # likes, reposts, follows, blocks, profile
    links: list[Any] = []
    for facet in rec.get("facets") or []:
        for feat in dig(facet, "features") or []:
            if isinstance(feat, dict) and str(feat.get("$type", "")).endswith("#link"):
                links.append(feat.get("uri"))
    embed = rec.get("embed") or {}
    links += [dig(embed, "external", "uri"), dig(embed, "media", "external", "uri")]
    alts = [dig(i, "alt") for i in (dig(embed, "images") or dig(embed, "media", "images") or [])]
    reply = first(dig(rec, "reply", "parent", "uri"))
    return make(req, "bluesky", "reply" if reply else "post", [rec.get("text"), *alts], links,
                first(reply, repo))


@spec("bluesky", ANY, r"^/xrpc/(com\.atproto\.repo\.(?:createRecord|putRecord|applyWrites)|"
      r"chat\.bsky\.convo\.sendMessage(?:Batch)?)$")
def bluesky(req: Req, m: re.Match[str]) -> Submission | None:
    if req.kind_of_body() != "json" or not isinstance(req.json, dict):
        return None
    d = req.json
    nsid = m.group(1)
    if nsid.startswith("chat."):
        items = d.get("items") or [{"convoId": d.get("convoId"), "message": d.get("message")}]
        texts = [dig(i, "message", "text") for i in items]
        return make(req, "bluesky", "message", texts, target=first(dig(items, 0, "convoId")))
    if nsid.endswith("applyWrites"):
        for w in d.get("writes") or []:
            if str(dig(w, "$type")).endswith("#create") and dig(w, "collection") in _BSKY_KINDS:
                return _bsky_record(req, dig(w, "collection"), dig(w, "value"), d.get("repo"))
        return not_submission(req, "bluesky")
    return _bsky_record(req, d.get("collection"), d.get("record"), d.get("repo"))
