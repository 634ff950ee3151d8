"""Which hosts are social: the policy's social domains, plus any-host API paths (Mastodon, Bluesky)."""

from __future__ import annotations

from typing import Any

from checker.links import registered_domain
from proxy_addon.extract.sites import any_host_specs


def _social_domains(policy: Any) -> frozenset[str]:
    # cached on the policy object: the host list is data and does not change while loaded
    cached = getattr(policy, "_postguard_social_domains", None)
    if cached is None:
        hosts = policy.data.social.get("hosts", [])
        cached = frozenset(registered_domain(h) or h.lower() for h in hosts)
        try:
            object.__setattr__(policy, "_postguard_social_domains", cached)
        except (AttributeError, TypeError):
            pass
    return cached


def is_social_host(host: str, policy: Any, path: str | None = None) -> bool:
    """True for a host under the policy's social domains, or (given `path`) a Mastodon/Bluesky API."""
    h = (host or "").lower().strip(".").split(":")[0]
    if h and (registered_domain(h) or h) in _social_domains(policy):
        return True
    return path is not None and any(s.path.search(path) for s in any_host_specs())
