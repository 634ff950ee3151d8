"""The table of site specs: each names the domains and path shape it handles, and a handler.

A handler returns a Submission (decided: kind None means "publishes nothing") or None
("not mine after all"), in which case the next spec and finally the generic extractor run.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from checker.links import registered_domain
from proxy_addon.extract.body import Req
from proxy_addon.extract.model import Submission

Handler = Callable[[Req, re.Match[str]], Submission | None]


@dataclass(frozen=True)
class Spec:
    """One request shape: registered domains (empty = any host), a path regex, the handler."""

    name: str
    domains: tuple[str, ...]
    path: re.Pattern[str]
    handler: Handler
    methods: tuple[str, ...] = ("POST",)


def spec(name: str, domains: tuple[str, ...] | str, path: str, methods: tuple[str, ...] = ("POST",)
         ) -> Callable[[Handler], Handler]:
    """Decorator registering a handler in the table."""
    doms = (domains,) if isinstance(domains, str) else domains

    def deco(fn: Handler) -> Handler:
        SPECS.append(Spec(name, doms, re.compile(path), fn, methods))
        return fn
    return deco


SPECS: list[Spec] = []

# Importing the site modules fills SPECS (order inside a module is the matching order).
from proxy_addon.extract.sites import (  # noqa: E402,F401
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
from proxy_addon.extract.sites.generic import generic  # noqa: E402

ANY_HOST_SPECS: tuple[Spec, ...] = tuple(s for s in SPECS if not s.domains)


def match_spec(req: Req) -> Submission | None:
    """The first spec's decision for `req`, else the generic extractor's."""
    rd = registered_domain(req.host)
    for s in SPECS:
        if s.domains and rd not in s.domains:
            continue
        if req.method not in s.methods:
            continue
        m = s.path.search(req.path)
        if m is None:
            continue
        sub = s.handler(req, m)
        if sub is not None:
            return sub
    return generic(req)
