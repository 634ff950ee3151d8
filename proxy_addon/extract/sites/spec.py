"""What a site spec is: the domains and path shape it handles, and a handler.

    @spec("myforum-post", "myforum.org", r"^/api/posts/?$")
    def forum_post(req: Req, m: re.Match[str]) -> Submission | None:
        ...

`spec` only builds the `Spec`; nothing is registered on import. The built-in specs are listed,
in matching order, in `proxy_addon.extract.sites.BUILTIN_SPECS`; a district's own specs come
in through the `postguard.sites` entry points (`proxy_addon.extract.sites.plugins`).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from proxy_addon.extract.body import Req
from proxy_addon.extract.model import Submission

# A handler returns a Submission (decided: kind None means "publishes nothing") or None
# ("not mine after all"), in which case the next spec and finally the generic extractor run.
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
         ) -> Callable[[Handler], Spec]:
    """Decorator making a handler into a `Spec` (it registers nothing)."""
    doms = (domains,) if isinstance(domains, str) else domains

    def deco(fn: Handler) -> Spec:
        return Spec(name, doms, re.compile(path), fn, methods)
    return deco
