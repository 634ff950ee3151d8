"""What a request to a social site publishes, and where: site specs plus a generic extractor.

    sub = extract(method, url, headers, raw_body, policy)   # Submission | None

`body` is the raw wire bytes; Content-Encoding is undone here with a bound (a bomb raises
`BodyError`; `salvage` then scans the raw bytes for text and names the posting endpoint). None means the host is not social or the request publishes nothing (a search,
a like, a read, telemetry). Pure Python: no mitmproxy, no network.

The site specs are the built-in table (`sites.BUILTIN_SPECS`) plus a district's own, from
`postguard.sites` entry points read on first use; `site_specs()` returns the whole table and
raises `SiteSpecError` when an entry point is broken (so does `extract`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from checker import ImageInput, Post
from proxy_addon.extract.body import Req
from proxy_addon.extract.encoding import decode_body
from proxy_addon.extract.hosts import is_social_host
from proxy_addon.extract.model import BodyError, Submission
from proxy_addon.extract.salvage import posting_endpoint, salvage, scan_text
from proxy_addon.extract.sites import ANY_HOST_SPECS, SiteSpecError, match_spec, site_specs
from proxy_addon.extract.websocket import extract_websocket

__all__ = ["ANY_HOST_SPECS", "BodyError", "SiteSpecError", "Submission", "as_post", "extract",
           "extract_websocket", "is_social_host", "posting_endpoint", "salvage", "scan_text", "site_specs"]

DEFAULT_MAX_BYTES = 10 * 1024 * 1024


def extract(method: str, url: str, headers: Mapping[str, str], body: bytes, policy: Any, *,
            max_bytes: int = DEFAULT_MAX_BYTES) -> Submission | None:
    """The submission a request makes, or None (not social, or not a submission)."""
    req = Req(method, url, dict(headers), b"")
    if not is_social_host(req.host, policy, req.path):
        return None
    if req.method in ("GET", "HEAD", "OPTIONS", "CONNECT", "TRACE"):
        return None
    req.body = decode_body(body, req.header("content-encoding"), max_bytes)
    sub = match_spec(req)
    if sub is None or (sub.kind is None and sub.unreadable is None):
        return None
    if sub.endpoint is None:
        sub.endpoint = posting_endpoint(req.method, url)
    return sub


def as_post(sub: Submission) -> Post:
    """The checker's Post for a submission (account left to the registry; undecodable images dropped)."""
    # Imported here: Pillow and numpy are for the process that checks (the proxy's workers),
    # not for the one that only routes and answers.
    from checker.imagematch import NotAnImage, open_image

    images = []
    for name, data in sub.images:
        try:
            open_image(data)
        except NotAnImage:
            continue  # not an image after all (or a bomb): nothing for the logo rule to see
        images.append(ImageInput(name=name, data=data))
    return Post(text=sub.text, account=None, site=sub.site, target=sub.target,
                links=tuple(sub.links), images=tuple(images), kind=sub.kind or "post",
                counterpart=sub.counterpart, settings=dict(sub.settings))
