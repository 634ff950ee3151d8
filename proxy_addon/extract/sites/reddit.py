"""Reddit: submit, comment, compose, gallery, edits, and the new site's GraphQL."""

from __future__ import annotations

import re
from typing import Any

from proxy_addon.extract.body import Req
from proxy_addon.extract.model import Submission
from proxy_addon.extract.sites.generic import body_object, human_texts
from proxy_addon.extract.sites.spec import spec
from proxy_addon.extract.util import dig, first, make, maybe_json, not_submission, strs

RD = ("reddit.com",)


def _fields(req: Req) -> dict[str, Any]:
    obj = body_object(req)
    return obj if isinstance(obj, dict) else {}


def richtext(value: Any) -> list[str]:
    """The text of a richtext_json document ({document: [{c: [{e: 'text', t: ...}]}]})."""
    doc = maybe_json(value) if value else None
    out: list[str] = []

    def visit(node: Any) -> None:
        if isinstance(node, dict):
            if isinstance(node.get("t"), str):
                out.append(node["t"])
            for k in ("document", "c"):
                visit(node.get(k))
        elif isinstance(node, list):
            for n in node:
                visit(n)
    visit(doc)
    return [" ".join(s.strip() for s in out if s.strip())] if out else []


@spec("reddit-submit", RD, r"^/api/submit/?$")
def submit(req: Req, m: re.Match[str]) -> Submission | None:
    f = _fields(req)
    return make(req, "reddit-submit", "post",
                [f.get("title"), f.get("text"), *richtext(f.get("richtext_json"))],
                [f.get("url")] if f.get("kind") == "link" else [], first(f.get("sr")))


@spec("reddit-gallery", RD, r"^/api/submit_(?:gallery|poll)_post(?:\.json)?/?$")
def gallery(req: Req, m: re.Match[str]) -> Submission | None:
    f = _fields(req)
    items = f.get("items") or []
    return make(req, "reddit-gallery", "post",
                [f.get("title"), f.get("text"), *richtext(f.get("richtext_json")),
                 *(dig(i, "caption") for i in items), *(f.get("options") or [])],
                [dig(i, "outbound_url") for i in items], first(f.get("sr")))


@spec("reddit-comment", RD, r"^/api/(comment|editusertext)/?$")
def comment(req: Req, m: re.Match[str]) -> Submission | None:
    f = _fields(req)
    thing = first(f.get("thing_id"), f.get("parent"))
    if m.group(1) == "editusertext":
        kind = "post" if thing and thing.startswith("t3_") else "comment"
    else:
        kind = {"t1": "reply", "t4": "message"}.get((thing or "")[:2], "comment")
    return make(req, "reddit-comment", kind, [f.get("text"), *richtext(f.get("richtext_json"))],
                target=thing)


@spec("reddit-compose", RD, r"^/api/compose/?$")
def compose(req: Req, m: re.Match[str]) -> Submission | None:
    f = _fields(req)
    return make(req, "reddit-compose", "message", [f.get("subject"), f.get("text")],
                target=first(f.get("to")))


@spec("reddit-graphql", RD, r"^/(?:svc/shreddit/graphql|graphql)/?$|^/$")
def graphql(req: Req, m: re.Match[str]) -> Submission | None:
    if req.path == "/" and not req.host.startswith("gql"):
        return None
    d = req.json if req.kind_of_body() == "json" else {}
    op = first(dig(d, "operation"), dig(d, "operationName")) or ""
    query = dig(d, "query") or ""
    if not re.search(r"Create|Submit|Send|Reply|Comment|Post", op) and not str(query).lstrip().startswith("mutation"):
        return not_submission(req, "reddit-graphql")
    if re.search(r"Vote|Save|Hide|Report|Follow|Subscribe|Award|Read|Search", op):
        return not_submission(req, "reddit-graphql")
    inp = dig(d, "variables", "input") or dig(d, "variables") or {}
    texts = strs(dig(inp, "title"), dig(inp, "content", "markdown"), dig(inp, "content", "text"),
                 *richtext(dig(inp, "content", "richText")), dig(inp, "text"))
    texts = texts or human_texts(inp)
    if not texts:
        return not_submission(req, "reddit-graphql")
    kind = "message" if "Message" in op or "Chat" in op else \
        "comment" if "Comment" in op or "Reply" in op else "post"
    return make(req, "reddit-graphql", kind, texts, [dig(inp, "url"), dig(inp, "link", "url")],
                first(dig(inp, "subredditName"), dig(inp, "subredditId"), dig(inp, "postId"),
                      dig(inp, "parentId")))
