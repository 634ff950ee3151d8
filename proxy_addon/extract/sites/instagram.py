"""Instagram and Threads: the app/web private API (signed_body or plain forms) and uploads.

Web GraphQL on instagram.com and threads.net goes through the Meta classifier in facebook.py.
"""

from __future__ import annotations

import re
from typing import Any

from proxy_addon.extract.body import Req
from proxy_addon.extract.model import Submission
from proxy_addon.extract.sites.spec import spec
from proxy_addon.extract.util import dig, first, make, maybe_json, not_submission, strs, unsign

IG = ("instagram.com", "threads.net", "threads.com")


def ig_data(req: Req) -> dict[str, Any]:
    """The request's fields: `signed_body=SIG.{json}` unwrapped, JSON strings parsed."""
    f = req.fields()
    if "signed_body" in f:
        data = unsign(f["signed_body"])
        return data if isinstance(data, dict) else {}
    return {k: maybe_json(v, f"form field {k}") for k, v in f.items()}


@spec("threads-app", IG, r"^/api/v1/media/configure_text(?:_only_post|_post_app_feed|_post_app_sidecar)/?$")
def threads_app(req: Req, m: re.Match[str]) -> Submission | None:
    d = ig_data(req)
    info = dig(d, "text_post_app_info") or {}
    reply = first(dig(info, "reply_id"))
    return make(req, "threads-app", "reply" if reply else "post", [d.get("caption")],
                [dig(info, "link_attachment_url")],
                first(reply, dig(info, "quoted_post_id"), d.get("_uid")))


@spec("instagram-configure", IG, r"^/api/v1/media/(?:configure|configure_sidecar|configure_to_story|"
      r"configure_to_clips|upload_finish)/?$|^/api/v1/media/\w+/edit_media/?$")
def configure(req: Req, m: re.Match[str]) -> Submission | None:
    d = ig_data(req)
    texts = strs(d.get("caption"), d.get("caption_text"))
    for child in d.get("children_metadata") or []:
        texts += strs(dig(child, "caption"))
    if not texts and req.path.rstrip("/").endswith("upload_finish"):
        return not_submission(req, "instagram-configure")
    return make(req, "instagram-configure", "post", texts, target=first(d.get("_uid")))


@spec("instagram-comment", IG, r"^/api/v1/(?:media/(\w+)/comment|web/comments/(\w+)/add)/?$")
def comment(req: Req, m: re.Match[str]) -> Submission | None:
    d = ig_data(req)
    reply = first(d.get("replied_to_comment_id"))
    return make(req, "instagram-comment", "reply" if reply else "comment", [d.get("comment_text")],
                target=first(m.group(1), m.group(2), d.get("media_id")))


@spec("instagram-direct", IG, r"^/api/v1/direct_v2/threads/broadcast/(\w+)/?$")
def direct(req: Req, m: re.Match[str]) -> Submission | None:
    d = ig_data(req)
    what = m.group(1)
    texts = strs(d.get("text"), d.get("link_text"), d.get("comment"))
    if what in ("reaction", "like", "mark_seen") or (not texts and what not in ("text", "link")):
        return not_submission(req, "instagram-direct")
    threads = d.get("thread_ids")
    users = d.get("recipient_users")
    target = first(threads[0] if isinstance(threads, list) and threads else threads,
                   dig(users, 0, 0) if isinstance(users, list) else users)
    return make(req, "instagram-direct", "message", texts, d.get("link_urls") or [], target)


@spec("instagram-friendship", IG, r"^/api/v1/(?:web/)?friendships/(\w+)/approve/?$|"
      r"^/api/v1/friendships/approve/(\w+)/?$")
def friendship(req: Req, m: re.Match[str]) -> Submission | None:
    who = first(m.group(1), m.group(2))
    d = ig_data(req) if req.body else {}
    return make(req, "instagram-friendship", "connection", target=first(d.get("_uid")),
                counterpart=who)
