"""The generic extractor: human-written text in JSON, form and multipart bodies of social hosts."""

from __future__ import annotations

from proxy_addon.extract.body import Req
from proxy_addon.extract.model import Submission


def generic(req: Req) -> Submission | None:
    """A best-effort submission for a request no spec covers (None: publishes nothing)."""
    return None
