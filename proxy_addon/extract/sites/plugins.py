"""A district's own site specs, from `postguard.sites` entry points.

A package the district installs beside postguard declares, in its pyproject.toml,

    [project.entry-points."postguard.sites"]
    myforum = "district_sites.myforum:forum_post"

where `forum_post` is a `Spec` (made with `proxy_addon.extract.sites.spec.spec`; its domains are
registered domains such as "ctreg14.org", or none for any host) or a tuple of them. They are tried after every built-in spec (so they cannot change how a built-in site is
read, only add to it: a request a built-in spec decides never reaches them), in the order of
their entry point names, and before the generic extractor.

Anything wrong is a `SiteSpecError` naming the entry point: it fails to import, it is not a
spec, or a spec name is already taken (by a built-in spec or another entry point's).
"""

from __future__ import annotations

from collections.abc import Iterable
from importlib.metadata import EntryPoint, entry_points

from proxy_addon.extract.sites.spec import Spec

ENTRY_POINT_GROUP = "postguard.sites"


class SiteSpecError(RuntimeError):
    """A `postguard.sites` entry point cannot be used (fails to load, not a spec, or clashes)."""


def _describe(ep: EntryPoint) -> str:
    dist = getattr(ep, "dist", None)
    where = f", from {dist.name} {dist.version}" if dist is not None else ""
    return f"site spec entry point {ep.name!r} = {ep.value!r} (group {ENTRY_POINT_GROUP}{where})"


def _specs_of(ep: EntryPoint) -> tuple[Spec, ...]:
    """The specs one entry point provides (a Spec, or a tuple or list of them)."""
    try:
        obj = ep.load()
    except Exception as e:  # an import error, a missing attribute, or the module's own failure
        raise SiteSpecError(f"{_describe(ep)} failed to load: {type(e).__name__}: {e}") from e
    specs = (obj,) if isinstance(obj, Spec) else tuple(obj) if isinstance(obj, tuple | list) else None
    if not specs or not all(isinstance(s, Spec) for s in specs):
        raise SiteSpecError(f"{_describe(ep)} is {type(obj).__name__} {obj!r:.80}, not a Spec or a "
                            "non-empty tuple of Specs (make one with proxy_addon.extract.sites.spec.spec)")
    for s in specs:
        if not callable(s.handler):
            raise SiteSpecError(f"{_describe(ep)}: spec {s.name!r} has no callable handler")
    return specs


def load_district_specs(builtin: Iterable[Spec]) -> tuple[Spec, ...]:
    """The specs of every installed `postguard.sites` entry point, checked against `builtin`."""
    owner = {s.name: "a built-in spec" for s in builtin}
    out: list[Spec] = []
    for ep in sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda e: (e.name, e.value)):
        for s in _specs_of(ep):
            if s.name in owner:
                raise SiteSpecError(f"{_describe(ep)} defines spec {s.name!r}, which is already "
                                    f"the name of {owner[s.name]}")
            owner[s.name] = f"a spec of {_describe(ep)}"
            out.append(s)
    return tuple(out)
