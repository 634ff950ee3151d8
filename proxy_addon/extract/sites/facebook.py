"""Facebook: web GraphQL mutations (by friendly name, never doc_id), Graph API, photo uploads.

The Meta GraphQL classifier here also serves Instagram, Threads and Messenger web, which
post the same `fb_api_req_friendly_name` + `variables` form to their own /api/graphql.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from proxy_addon.extract.body import Req, looks_image
from proxy_addon.extract.model import Submission
from proxy_addon.extract.parse import parse_json
from proxy_addon.extract.sites.generic import human_texts
from proxy_addon.extract.sites.spec import spec
from proxy_addon.extract.util import b64_decode, dig, first, make, maybe_json, not_submission, strs

META = ("facebook.com", "instagram.com", "threads.net", "threads.com", "messenger.com")

# Mutations that publish nothing (reactions, reads, settings, deletes) — whole CamelCase words
# of the name ("Marketplace" is not "Mark", "Saved" is not "Save"). A quiet-named mutation that
# still carries a message's text is checked all the same.
_QUIET = re.compile(
    r"(?:^|(?<=[a-z0-9]))(?:React|Reaction|Reactions|Like|Likes|Unlike|Seen|Read|Typing|Subscribe|Unsubscribe|"
    r"Follow|Unfollow|Save|Unsave|Hide|Unhide|Delete|Remove|Report|Log|Logging|Impression|Impressions|Mark|"
    r"Dismiss|Block|Unblock|Mute|Unmute|Poke|Vote|Presence|Nux|Setting|Settings|Preference|Preferences|"
    r"Tracking|Dialog|Notif|Notification|Notifications)(?=[A-Z]|$)")
_CONNECT = re.compile(r"FriendRequest(?:Confirm|Accept)|AcceptFriend|FollowRequestApprove|ApproveFollow")
_GROUP_CREATE = re.compile(r"Group(?:s)?(?:Comet)?Create|CreateGroup")
_PAGE_CREATE = re.compile(r"Page(?:s)?(?:Comet)?Create|CreatePage")


def classify(name: str) -> str | None:
    """The kind a Meta GraphQL operation name publishes (None: not a submission; '?' unknown;
    'quiet': a name that publishes nothing, unless the variables carry a message's text)."""
    if not name.endswith("Mutation"):
        return None  # queries and pagination only read
    if _CONNECT.search(name):
        return "connection"
    if _GROUP_CREATE.search(name):
        return "create_group"
    if _PAGE_CREATE.search(name):
        return "create_page"
    if _QUIET.search(name.removesuffix("Mutation")):
        return "quiet"
    if "Reply" in name:
        return "reply"
    if "Comment" in name:
        return "comment"
    if "Message" in name or "Send" in name:
        return "message"
    if re.search(r"Composer|StoryCreate|Create\w*Post|Post\w*Create|Share|Publish|TextPost", name):
        return "post"
    return "?"


def _feedback_post(fid: Any) -> tuple[str | None, bool]:
    """The post id inside a base64 'feedback:<post>[_<comment>]' id, and whether it is a reply."""
    if not isinstance(fid, str):
        return None, False
    raw = b64_decode(fid)
    s = raw.decode("utf-8", "replace") if raw else ""
    if not s.startswith("feedback:"):
        return fid, False
    ident = s[len("feedback:"):]
    return ident.split("_", 1)[0], "_" in ident


def meta_graphql(req: Req, spec_name: str) -> Submission | None:
    """A Meta web GraphQL request, classified by its friendly name."""
    f = req.fields()
    name = f.get("fb_api_req_friendly_name") or req.header("x-fb-friendly-name")
    if not name:
        return None  # not a Relay mutation form: let the generic extractor look
    kind = classify(name)
    if kind is None:
        return not_submission(req, spec_name)
    raw = f.get("variables", "{}")
    v = parse_json(raw, "form field variables") if isinstance(raw, str) else raw
    inp = dig(v, "input") if isinstance(dig(v, "input"), dict) else v
    user = first(f.get("__user"), f.get("av"))
    actor = first(dig(inp, "actor_id"))
    acting_as = actor if actor and actor != user else None
    group = first(dig(inp, "audience", "to_id"), dig(v, "groupID"), dig(inp, "group_id"))
    if kind == "connection":
        who = first(dig(inp, "friend_requester_id"), dig(inp, "requester_id"), dig(inp, "user_id"))
        return make(req, spec_name, "connection", target=actor or user, counterpart=who)
    text = strs(dig(inp, "message", "text"), dig(inp, "message_text"), dig(inp, "text"),
                dig(inp, "comment_text"), dig(inp, "body", "text"))
    if kind == "quiet":  # a reaction, a read, a setting... unless it carries a message after all
        if not text:
            return not_submission(req, spec_name)
        kind = "?"
    if kind in ("create_group", "create_page"):
        settings = {k: dig(inp, k) for k in ("privacy", "visibility", "name", "category")
                    if dig(inp, k) is not None}
        return make(req, spec_name, kind, strs(dig(inp, "name"), dig(inp, "group_name")) or text,
                    target=actor or user, settings=settings)
    if not text:
        text = human_texts(inp)
    if kind == "?":
        if not text:
            return not_submission(req, spec_name)
        kind = "post"
    links = strs(dig(inp, "link", "url"), dig(inp, "attachment", "link", "url"))
    for att in dig(inp, "attachments") or []:
        share = maybe_json(dig(att, "link", "share_scrape_data") or "null")
        links += strs(dig(share, "share_params", "url"), dig(att, "link", "url"))
    if kind in ("comment", "reply"):
        post, is_reply = _feedback_post(dig(inp, "feedback_id"))
        if is_reply or dig(inp, "reply_comment_parent_fbid") or dig(inp, "parent_comment_id"):
            kind = "reply"
        target = first(acting_as, group, post)
    elif kind == "message":
        target = first(dig(inp, "thread_id"), dig(inp, "thread_fbid"), dig(inp, "recipient_id"),
                       dig(v, "thread_id"))
    else:
        target = first(group, actor, user)
    return make(req, spec_name, kind, text, links, target)


@spec("facebook-graphql", META, r"^/(?:api/)?graphql/?$|^/graphql/query/?$")
def graphql(req: Req, m: re.Match[str]) -> Submission | None:
    return meta_graphql(req, "facebook-graphql")


_GRAPH_KIND = {"feed": "post", "posts": "post", "photos": "post", "videos": "post",
               "comments": "comment", "messages": "message"}


@spec("facebook-graph-api", "facebook.com",
      r"^/(?:v\d+\.\d+/)?([\w.]+)/(feed|posts|photos|videos|comments|messages)/?$")
def graph_api(req: Req, m: re.Match[str]) -> Submission | None:
    if req.host.split(".", 1)[0] not in ("graph", "graph-video"):
        return None
    f = dict(req.query)
    f.update(req.fields())
    kind = _GRAPH_KIND[m.group(2)]
    texts = strs(f.get("message"), f.get("caption"), f.get("name"), f.get("description"),
                 f.get("title"))
    if kind == "message":
        texts = strs(dig(maybe_json(f.get("message", "")), "text")) or texts
    target = m.group(1)
    if kind == "comment" and "_" in target:
        target = target.split("_", 1)[0]  # {page-id}_{post-id}: the page owns the post
    return make(req, "facebook-graph-api", kind, texts, strs(f.get("link"), f.get("url")), target)


@spec("facebook-graph-batch", "facebook.com", r"^/(?:v\d+\.\d+)?/?$")
def graph_batch(req: Req, m: re.Match[str]) -> Submission | None:
    """A Graph API batch: one POST carrying many requests (`batch=[{method, relative_url, body}]`);
    every publishing request in it is read, the first one names the kind and target."""
    if req.host.split(".", 1)[0] not in ("graph", "graph-video"):
        return None
    f = dict(req.query)
    f.update(req.fields())
    batch = maybe_json(f.get("batch") or "[]", "form field batch")
    if not isinstance(batch, list):
        return not_submission(req, "facebook-graph-batch")
    texts: list[str] = []
    links: list[str] = []
    kind = target = None
    for item in batch[:50]:  # the Graph API takes at most 50 requests a batch
        if not isinstance(item, dict) or str(item.get("method", "GET")).upper() not in ("POST", "PUT"):
            continue
        rel = urlsplit("/" + str(item.get("relative_url", "")).lstrip("/"))
        hit = re.match(r"^/(?:v\d+\.\d+/)?([\w.]+)/(feed|posts|photos|videos|comments|messages)/?$", rel.path)
        if not hit:
            continue
        params = dict(parse_qsl(rel.query, keep_blank_values=True))
        body = item.get("body")
        if isinstance(body, str):
            params.update(parse_qsl(body, keep_blank_values=True))
        elif isinstance(body, dict):
            params.update({k: v for k, v in body.items() if isinstance(v, str)})
        texts += strs(params.get("message"), params.get("caption"), params.get("name"), params.get("description"),
                      params.get("title"))
        links += strs(params.get("link"), params.get("url"))
        if kind is None:
            kind = _GRAPH_KIND[hit.group(2)]
            target = hit.group(1).split("_", 1)[0] if kind == "comment" else hit.group(1)
    if kind is None:
        return not_submission(req, "facebook-graph-batch")
    return make(req, "facebook-graph-batch", kind, texts, links, target)


@spec("facebook-upload", META, r"/(?:photo|video|attachments?)/upload|^/rupload_ig(?:photo|video)/")
def upload(req: Req, m: re.Match[str]) -> Submission | None:
    images = req.images()
    if not images and req.kind_of_body() == "binary":
        if looks_image(req.body):
            name = req.header("x-entity-name") or req.path.rstrip("/").rsplit("/", 1)[-1]
            images = [(name, req.body)]
    if not images:
        return not_submission(req, "facebook-upload")
    return make(req, "facebook-upload", "upload", images=images,
                target=first(req.q("profile_id"), req.q("av"), req.q("__user")))
