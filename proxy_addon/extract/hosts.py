"""Which hosts are social: the policy's social domains, hosts whose API paths are social
(`[api_hosts]` in social.toml, e.g. the YouTube Data API on www.googleapis.com), plus any-host API
paths (Mastodon, Bluesky)."""

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


def api_hosts(policy: Any) -> dict[str, tuple[str, ...]]:
    """{exact host: social path prefixes} from social.toml's `[api_hosts]` (malformed entries skipped)."""
    cached = getattr(policy, "_postguard_api_hosts", None)
    if cached is None:
        raw = policy.data.social.get("api_hosts", {})
        cached = {str(h).lower().rstrip("."): tuple(p for p in v if isinstance(p, str) and p.startswith("/"))
                  for h, v in (raw.items() if isinstance(raw, dict) else ()) if isinstance(v, list)}
        try:
            object.__setattr__(policy, "_postguard_api_hosts", cached)
        except (AttributeError, TypeError):
            pass
    return cached


def is_social_host(host: str, policy: Any, path: str | None = None) -> bool:
    """True for a host under the policy's social domains, or (given `path`) a social API path:
    an `[api_hosts]` prefix on that host, or a Mastodon/Bluesky API on any host."""
    h = (host or "").lower().strip(".").split(":")[0]
    if h and (registered_domain(h) or h) in _social_domains(policy):
        return True
    if path is None:
        return False
    prefixes = api_hosts(policy).get(h)
    if prefixes and path.startswith(prefixes):
        return True
    return any(s.path.search(path) for s in any_host_specs())
