"""Run every rule of a policy over a post and return the verdict."""

from __future__ import annotations

from checker.context import Context
from checker.district import SponsoredSite
from checker.links import registered_domain, split_url
from checker.model import ACCOUNTS, Account, Finding, Post, Verdict
from checker.policy import Policy
from checker.text import clean_input

MAX_TEXT_CHARS = 100_000  # longer than any social site accepts in one post


class InputError(ValueError):
    """A post the checker cannot read (too long, an image that is not an image...)."""


def find_sponsored(policy: Policy, target: str | None, site: str | None = None) -> SponsoredSite | None:
    """The registry entry a target names: a URL, an API id, or a page name on `site`."""
    if not target:
        return None
    t = target.strip()
    for s in policy.district.sponsored:
        if t in s.ids:
            return s
    if "/" in t or "." in t:
        hit = policy.data.links.sponsored_match(t)
        if hit is not None:
            return hit
    name = t.lstrip("@").rstrip("/").lower()
    site_rd = registered_domain(split_url(site)[0]) if site else ""
    for s in policy.district.sponsored:
        last = s.path.rsplit("/", 1)[-1].lstrip("@")
        if last and last == name and (not site_rd or registered_domain(s.host) == site_rd):
            return s
    return None


def check(post: Post, policy: Policy) -> Verdict:
    """Findings of every enabled rule for `post` under `policy`."""
    text = clean_input(post.text)
    if len(text) > MAX_TEXT_CHARS:
        raise InputError(f"text is {len(text):,} characters; the limit is {MAX_TEXT_CHARS:,}")
    site = find_sponsored(policy, post.target, post.site)
    account: Account
    if post.account is not None:
        if post.account not in ACCOUNTS:
            raise InputError(f"account must be {' or '.join(ACCOUNTS)} (got {post.account!r})")
        account = post.account
    else:
        account = "sponsored" if site is not None else "personal"
    ctx = Context(post, policy.data, account, site, text)
    findings: list[Finding] = []
    active = [r for r in policy.rules if r.config.actions[account] != "off" and account in r.applies_to]
    for rule in active:
        findings.extend(rule.check(post, ctx))
    if policy.judgment is not None:
        findings = policy.judgment.apply(post, ctx, active, findings)
    fired = {f.rule for f in findings}
    for rule in active:
        if rule.id not in fired:
            findings.extend(rule.implied(findings, ctx))
    findings.sort(key=lambda f: (f.span[0] if f.span else 1 << 30, f.rule))
    return Verdict(
        account=account,
        findings=tuple(findings),
        policy_digest=policy.digest,
        sponsored_site=site.url if site else None,
    )
