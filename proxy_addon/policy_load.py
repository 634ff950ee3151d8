"""The proxy's policy: loading its folder (errors as mitmproxy option errors) and the
`allow_hosts` regex of its social domains. Used by the add-on at start and by `reload` when a
new policy is swapped in."""

from __future__ import annotations

import re
from pathlib import Path

from mitmproxy import exceptions

from checker import Policy, PolicyError, load_policy
from proxy_addon.extract import SiteSpecError, site_specs
from proxy_addon.extract.hosts import api_hosts


def social_hosts_regex(policy: Policy) -> str:
    """An `allow_hosts` regex matching the policy's social domains and their sub-domains, and
    the exact `[api_hosts]` (whose social paths only are checked)."""
    hosts = sorted({h.strip().lower().rstrip(".") for h in policy.data.social["hosts"]})
    alts = "|".join(re.escape(h) for h in hosts)
    exact = "".join(f"|{re.escape(h)}" for h in sorted(api_hosts(policy)))
    # mitmproxy matches "host:port" strings (address, Host header, SNI) with re.search.
    return rf"^(?:(?:[^:]*\.)?(?:{alts}){exact})(?::\d+)?$"


def load_policy_folder(folder: str, checks: bool) -> Policy:
    """The `postguard_policy` folder ("" = the built-in one) as a Policy; OptionsError names what is wrong."""
    try:
        site_specs()  # a district's broken site-spec package stops the start, not every request
    except SiteSpecError as e:
        raise exceptions.OptionsError(f"postguard.sites: {e}") from None
    if folder and not Path(folder).is_dir():
        raise exceptions.OptionsError(f"postguard_policy: no such policy folder: {folder!r}")
    try:
        return load_policy(folder or None, checks=checks)
    except PolicyError as e:
        raise exceptions.OptionsError(f"postguard_policy: {e}") from None
    except OSError as e:
        raise exceptions.OptionsError(f"postguard_policy: {e.strerror}: {e.filename}") from None
