"""The table of site specs: each names the domains and path shape it handles, and a handler.

A handler returns a Submission (decided: kind None means "publishes nothing") or None
("not mine after all"), in which case the next spec and finally the generic extractor run.

The table is `BUILTIN_SPECS` (below, in matching order) followed by a district's own specs,
declared as `postguard.sites` entry points (`plugins.py`). Importing this package registers
nothing: the entry points are read the first time `site_specs()` is called.
"""

from __future__ import annotations

from functools import cache

from checker.links import registered_domain
from proxy_addon.extract.body import Req
from proxy_addon.extract.model import BodyError, Submission
from proxy_addon.extract.sites import (
    discord,
    facebook,
    fediverse,
    instagram,
    linkedin,
    pinterest,
    reddit,
    snapchat,
    tiktok,
    x,
    youtube,
)
from proxy_addon.extract.sites.generic import body_object, generic, human_texts
from proxy_addon.extract.sites.plugins import ENTRY_POINT_GROUP, SiteSpecError, load_district_specs
from proxy_addon.extract.sites.spec import Handler, Spec, spec
from proxy_addon.extract.util import inline_links

__all__ = ["ANY_HOST_SPECS", "BUILTIN_SPECS", "ENTRY_POINT_GROUP", "SPECS", "Handler", "SiteSpecError",
           "Spec", "any_host_specs", "match_spec", "site_specs", "spec"]

# Every built-in spec, in matching order: for a request, the first spec whose domain, method
# and path match and whose handler decides (returns a Submission) wins. The order is the one
# the table had when importing the site modules filled it (modules alphabetically, specs in
# file order), kept exactly, so precedence is unchanged. Where it can matter: mastodon-status
# and bluesky match on any host, so they are tried before every site listed after them
# (Instagram ... YouTube) and after Discord's and Facebook's own specs. Today no two built-in
# specs match the same request (specs sharing a domain have disjoint paths, and the any-host
# paths /api/v1/statuses and /xrpc/... match no other spec's), so no current result depends
# on the order; a new or widened path that overlaps another takes precedence only by its place.
BUILTIN_SPECS: tuple[Spec, ...] = (
    discord.message, discord.thread,
    facebook.graphql, facebook.graph_api, facebook.graph_batch, facebook.upload,
    fediverse.mastodon_status, fediverse.bluesky,
    instagram.threads_app, instagram.configure, instagram.comment, instagram.direct, instagram.friendship,
    linkedin.share, linkedin.comment, linkedin.messaging, linkedin.graphql, linkedin.rest_posts,
    linkedin.rest_comments,
    pinterest.resource, pinterest.api_v5,
    reddit.submit, reddit.gallery, reddit.comment, reddit.compose, reddit.graphql,
    snapchat.chat,
    tiktok.comment, tiktok.dm,
    x.graphql, x.dm, x.api_v1, x.api_v2, x.api_v2_dm, x.friendship, x.upload,
    youtube.comment, youtube.live_chat, youtube.post, youtube.data_api,
)

SPECS = BUILTIN_SPECS  # the old name (it was a list filled by importing the site modules)

# The built-in specs that match on any host (Mastodon, Bluesky): their paths make a host social.
ANY_HOST_SPECS: tuple[Spec, ...] = tuple(s for s in BUILTIN_SPECS if not s.domains)


@cache
def site_specs() -> tuple[Spec, ...]:
    """The whole table: the built-in specs, then the district's own (entry points, read once).

    Raises SiteSpecError when an entry point fails to load, is not a spec, or clashes (on
    every call: a failure is not cached). The add-on can call this at start-up
    to fail there rather than on the first request."""
    return BUILTIN_SPECS + load_district_specs(BUILTIN_SPECS)


@cache
def any_host_specs() -> tuple[Spec, ...]:
    """The specs of the whole table that match on any host."""
    return tuple(s for s in site_specs() if not s.domains)


def match_spec(req: Req) -> Submission | None:
    """The first spec's decision for `req`, else the generic extractor's."""
    rd = registered_domain(req.host)
    for s in site_specs():
        if s.domains and rd not in s.domains:
            continue
        if req.method not in s.methods:
            continue
        m = s.path.search(req.path)
        if m is None:
            continue
        sub = s.handler(req, m)
        if sub is not None:
            return _with_stray_text(req, sub)
    return generic(req)


_TEXT_KINDS = frozenset({"post", "comment", "reply", "message"})


def _with_stray_text(req: Req, sub: Submission) -> Submission:
    """A post, comment, reply or message in which the spec found no text and no image: the text
    may sit where the spec does not look (a reshaped body, another content type), so the generic
    text finder reads the body too. Only what reads as human text is taken."""
    if sub.kind not in _TEXT_KINDS or sub.texts or sub.images or sub.unreadable:
        return sub
    try:
        obj = body_object(req)
        texts = human_texts(obj) if obj is not None else []
    except BodyError:
        return sub
    if texts:
        sub.texts = texts
        sub.links = [*sub.links, *inline_links(texts)]
    return sub
