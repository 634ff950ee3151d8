"""Find links in text and classify them against the district's sites and personal-page shapes.

Domains are split with tldextract's bundled public suffix list: no network, no cache writes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Literal
from urllib.parse import urlsplit

import tldextract

from checker.district import District, SponsoredSite

LinkKind = Literal["district-website", "sponsored-site", "personal-profile", "personal-page", "other"]

_EXTRACT = tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None)

_URL = re.compile(
    r"(?:https?://|www\.)[^\s<>\"'()\[\]{}]+"
    # A bare domain starts only where a label can start (not inside "a.a.a..."), which keeps
    # the search linear on long dotted runs (tests/hostile).
    r"|(?<![a-z0-9.-])(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,24}(?:/[^\s<>\"'()\[\]{}]*)?",
    re.IGNORECASE,
)
_TRAIL = ".,;:!?)]}'\""


@lru_cache(maxsize=4096)
def registered_domain(host: str) -> str:
    """The domain under its public suffix ("www.ctreg14.org" -> "ctreg14.org"); "" if none."""
    ext = _EXTRACT(host.lower().strip("."))
    if not ext.suffix or not ext.domain:
        return ""
    return f"{ext.domain}.{ext.suffix}"


def split_url(url: str) -> tuple[str, str]:
    """(host without "www.", lower-cased path without trailing slash) of a URL or bare host/path."""
    u = url.strip()
    if not re.match(r"^[a-z][a-z0-9+.-]*://", u, re.I):
        u = "http://" + u
    try:
        parts = urlsplit(u)
        host = (parts.hostname or "").lower()
    except ValueError:
        return ("", "")
    if host.startswith("www.") or host.startswith("m."):
        host = host.split(".", 1)[1]
    path = parts.path.rstrip("/").lower()
    if parts.query and path in ("/profile.php", "/people"):
        path = f"{path}?{parts.query.lower()}"
    return (host, path)


@dataclass(frozen=True)
class Link:
    """A link in a post: the URL, where it was in the text (None when attached) and its class."""

    url: str
    span: tuple[int, int] | None
    kind: LinkKind
    detail: str


def find_urls(text: str) -> list[tuple[tuple[int, int], str]]:
    """URLs and bare domains written in `text`, with their spans."""
    out: list[tuple[tuple[int, int], str]] = []
    if "." not in text:
        return out
    for m in _URL.finditer(text):
        url = m.group()
        end = m.end()
        while url and url[-1] in _TRAIL:
            url, end = url[:-1], end - 1
        if not url.lower().startswith(("http://", "https://", "www.")):
            host = url.split("/", 1)[0]
            if not registered_domain(host) or host.replace(".", "").isdigit():
                continue
            # "e.g", "a.m" and friends: a one-letter label is a domain only with a path (x.com/...).
            if len(host.split(".")[-2]) < 2 and "/" not in url:
                continue
        out.append(((m.start(), end), url))
    return out


class LinkClassifier:
    """Decides what a URL is for this district: its website, a sponsored site, a personal page."""

    def __init__(self, district: District, social: dict[str, Any]) -> None:
        self.websites = {registered_domain(w) or w for w in district.websites}
        self.website_hosts = set(district.websites)
        self.sponsored = district.sponsored
        self.blog_hosts = {h.lower() for h in social.get("blog_hosts", [])}
        self.aliases: dict[str, str] = {k.lower(): v.lower() for k, v in social.get("aliases", {}).items()}
        self.profiles: dict[str, list[re.Pattern[str]]] = {
            dom.lower(): [re.compile(p, re.I) for p in pats]
            for dom, pats in social.get("profiles", {}).items()
        }

    def sponsored_match(self, url: str) -> SponsoredSite | None:
        """The registry entry this URL points into (the page itself or anything under it)."""
        host, path = split_url(url)
        if not host:
            return None
        rd = self.canonical(registered_domain(host))
        first = path.split("/")[1] if path.count("/") >= 1 and len(path) > 1 else ""
        for s in self.sponsored:
            if self.canonical(registered_domain(s.host)) != rd:
                continue
            sp = s.path.lower()
            if path == sp or path.startswith(sp + "/") or (first and first in s.ids):
                return s
        return None

    def canonical(self, domain: str) -> str:
        """One name for sites known by two (twitter.com is x.com)."""
        return self.aliases.get(domain, domain)

    def classify(self, url: str, span: tuple[int, int] | None = None) -> Link:
        """Classify one URL."""
        host, path = split_url(url)
        rd = registered_domain(host) if host else ""
        if rd and (rd in self.websites or host in self.website_hosts):
            return Link(url, span, "district-website", f"the district's website {rd}")
        s = self.sponsored_match(url)
        if s is not None:
            return Link(url, span, "sponsored-site", f"the district-sponsored site {s.url} (form {s.request_form})")
        if host in self.blog_hosts or rd in self.blog_hosts or any(host.endswith("." + b) for b in self.blog_hosts):
            sub = host[: -len(rd)].rstrip(".") if host != rd else ""
            if sub not in ("", "www") or path.strip("/"):
                return Link(url, span, "personal-page", f"a personal blog or web page on {rd}")
        for pat in self.profiles.get(self.canonical(rd), ()):
            if pat.search(path or "/"):
                return Link(url, span, "personal-profile", f"a personal profile on {rd}")
        return Link(url, span, "other", rd or host)
