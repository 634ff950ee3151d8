"""LinkedIn: voyager shares, comments, messaging and GraphQL (web), and the REST / v2 API."""

from __future__ import annotations

import re
from typing import Any

from proxy_addon.extract.body import Req
from proxy_addon.extract.model import Submission
from proxy_addon.extract.sites.generic import human_texts
from proxy_addon.extract.sites.spec import spec
from proxy_addon.extract.util import dig, first, make, not_submission, strs

LI = ("linkedin.com",)


def _json(req: Req) -> Any:
    return req.json if req.kind_of_body() == "json" else {}


def _commentary(d: Any) -> list[str]:
    return strs(dig(d, "commentaryV2", "text"), dig(d, "commentary", "text"),
                dig(d, "commentary") if isinstance(dig(d, "commentary"), str) else None)


@spec("linkedin-share", LI, r"^/voyager/api/contentcreation/normShares/?$|"
      r"^/voyager/api/voyagerContentcreationDashShares/?$")
def share(req: Req, m: re.Match[str]) -> Submission | None:
    d = _json(req)
    links = [dig(x, "url") for x in dig(d, "media") or [] if isinstance(x, dict)]
    return make(req, "linkedin-share", "post", _commentary(d), links,
                first(dig(d, "containerEntity"), dig(d, "nonMemberActorUrn"), dig(d, "author")))


@spec("linkedin-comment", LI, r"^/voyager/api/(?:voyagerSocialDashNormComments|feed/comments)/?$")
def comment(req: Req, m: re.Match[str]) -> Submission | None:
    d = _json(req)
    thread = first(dig(d, "threadUrn"), dig(d, "threadId"))
    kind = "reply" if thread and thread.startswith("urn:li:comment:") else "comment"
    return make(req, "linkedin-comment", kind, _commentary(d) or strs(dig(d, "comment", "values", 0, "value")),
                target=first(dig(d, "nonMemberActorUrn"), thread))


@spec("linkedin-messaging", LI, r"^/voyager/api/(?:voyagerMessagingDashMessengerMessages|"
      r"messaging/conversations(?:/([^/]+)/events)?)/?$")
def messaging(req: Req, m: re.Match[str]) -> Submission | None:
    action = req.q("action") or ""
    if action and action not in ("createMessage", "create"):
        return not_submission(req, "linkedin-messaging")  # typing, read receipts, reactions
    d = _json(req)
    create = dig(d, "eventCreate", "value", "com.linkedin.voyager.messaging.create.MessageCreate") or \
        dig(d, "conversationCreate", "eventCreate", "value",
            "com.linkedin.voyager.messaging.create.MessageCreate")
    texts = strs(dig(d, "message", "body", "text"), dig(create, "attributedBody", "text"),
                 dig(create, "body"))
    if not texts:
        return not_submission(req, "linkedin-messaging")
    recips = dig(d, "hostRecipientUrns") or dig(d, "conversationCreate", "recipients") or []
    return make(req, "linkedin-messaging", "message", texts, target=first(
        dig(d, "message", "conversationUrn"), dig(d, "conversationUrn"), m.group(1),
        recips[0] if isinstance(recips, list) and recips else None))


@spec("linkedin-graphql", LI, r"^/voyager/api/graphql/?$")
def graphql(req: Req, m: re.Match[str]) -> Submission | None:
    qid = req.q("queryId") or ""
    d = _json(req)
    qid = qid or first(dig(d, "queryId")) or ""
    op = qid.split(".", 1)[0]  # voyagerContentcreationDashShares.<rotating hash>
    if req.q("action") != "execute" and not dig(d, "variables"):
        return not_submission(req, "linkedin-graphql")
    if re.search(r"React|Like|Follow|Seen|Read|Typing|Delete|Save", op):
        return not_submission(req, "linkedin-graphql")
    v = dig(d, "variables") or {}
    texts = human_texts(v)
    if not texts:
        return not_submission(req, "linkedin-graphql")
    kind = ("message" if "Messag" in op else "comment" if "Comment" in op else "post")
    return make(req, "linkedin-graphql", kind, texts, target=first(
        dig(v, "post", "containerEntity"), dig(v, "conversationUrn"), dig(v, "threadUrn")))


@spec("linkedin-rest-posts", LI, r"^/(?:rest/posts|v2/ugcPosts|v2/shares)/?$")
def rest_posts(req: Req, m: re.Match[str]) -> Submission | None:
    d = _json(req)
    share = dig(d, "specificContent", "com.linkedin.ugc.ShareContent") or {}
    texts = strs(dig(d, "commentary"), dig(share, "shareCommentary", "text"), dig(d, "text", "text"))
    links = strs(dig(d, "content", "article", "source"),
                 [dig(x, "originalUrl") for x in dig(share, "media") or []],
                 [dig(x, "entityLocation") for x in dig(d, "content", "contentEntities") or []])
    return make(req, "linkedin-rest-posts", "post", texts, links,
                first(dig(d, "containerEntity"), dig(d, "author"), dig(d, "owner")))


@spec("linkedin-rest-comments", LI, r"^/(?:rest|v2)/socialActions/([^/]+)/comments/?$")
def rest_comments(req: Req, m: re.Match[str]) -> Submission | None:
    d = _json(req)
    return make(req, "linkedin-rest-comments", "comment", [dig(d, "message", "text")],
                target=first(dig(d, "actor"), m.group(1)))
