"""What the proxy answers instead of the site: HTML pages for navigations, JSON for fetch/XHR.

Every answer carries the monitoring notice (P.A. 98-142; personal rule 7, sponsored rule 6).
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import jinja2
from mitmproxy import http

OVERRIDE_PATH = "/__postguard/override"
_CLAUSE_ID = re.compile(r"\b([DP]\d{1,2})\b")

_env = jinja2.Environment(
    loader=jinja2.FileSystemLoader(Path(__file__).resolve().parent / "templates"),
    autoescape=True,
)


def clause_ids(clause: str) -> list[str]:
    """Clause ids named in a finding's clause field ("D4, P9" -> ["D4", "P9"])."""
    return _CLAUSE_ID.findall(clause or "")


def clause_label(clause: str) -> str:
    """Human wording for clause ids: P5 -> "personal rule 5", D7 -> "district-sponsored rule 7"."""
    out = []
    for cid in clause_ids(clause):
        out.append(("personal rule " if cid[0] == "P" else "district-sponsored rule ") + cid[1:])
    return ", ".join(out) or clause


_env.globals.update(clause_ids=clause_ids, clause_label=clause_label)


def segments(text: str, spans: Sequence[Sequence[int]]) -> list[tuple[str, bool]]:
    """Split `text` into (piece, highlighted) runs, merging overlapping spans."""
    clean = sorted((max(0, a), min(len(text), b)) for a, b in spans if b > a)
    merged: list[list[int]] = []
    for a, b in clean:
        if merged and a <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], b)
        else:
            merged.append([a, b])
    out: list[tuple[str, bool]] = []
    pos = 0
    for a, b in merged:
        if a > pos:
            out.append((text[pos:a], False))
        out.append((text[a:b], True))
        pos = b
    if pos < len(text):
        out.append((text[pos:], False))
    return out


def is_navigation(headers: http.Headers) -> bool:
    """True when the browser expects a page (a plain form post), not data for a script."""
    mode = headers.get("sec-fetch-mode", "").lower()
    if mode:
        return mode == "navigate"
    dest = headers.get("sec-fetch-dest", "").lower()
    if dest:
        return dest in ("document", "iframe", "frame")
    return "text/html" in headers.get("accept", "").lower()


_TITLES = {
    "warn": ("Please check this post before it goes out",
             "postguard found something in this post that Board policy on social media may not allow. "
             "Nothing has been posted yet."),
    "block": ("This post was not sent",
              "Board policy on social media does not allow this post, so postguard stopped it. "
              "You can go back and edit it."),
    "error": ("This post could not be checked, so it was not sent",
              "postguard could not read or check this post, and the district's setting is to hold "
              "posts that cannot be checked. Please try again, or contact IT if it keeps happening."),
    "expired": ("This warning has expired",
                "The chance to post this anyway has expired or was already used. Go back and post "
                "again: postguard will check it again."),
    "too_large": ("This upload is too large to check",
                  "The request is larger than the district's limit for posts to social media, so it "
                  "was not sent."),
}


def render_html(kind: str, *, notice: str, clauses: dict[str, str], findings: Sequence[dict[str, Any]] = (),
                text: str = "", token: str = "", min_chars: int, back_url: str = "/",
                override_error: str = "", justification: str = "", digest: str = "") -> str:
    """The page for `kind` in warn | block | error | expired | too_large."""
    title, lead = _TITLES[kind]
    spans = [f["span"] for f in findings if f.get("span")]
    return _env.get_template("notice.html").render(
        title=title, lead=lead, findings=list(findings), clauses=clauses,
        segments=segments(text, spans) if text else [], highlighted=bool(spans),
        override=kind == "warn" and bool(token), token=token, min_chars=min_chars,
        override_path=OVERRIDE_PATH, override_error=override_error, justification=justification,
        back_url=back_url, notice=notice, digest=digest,
    )


def _no_store(headers: dict[str, str]) -> dict[str, str]:
    # A warning is about one post at one moment: never cache it or let a site frame it.
    return {**headers, "Cache-Control": "no-store", "X-Content-Type-Options": "nosniff",
            "X-Frame-Options": "DENY", "Referrer-Policy": "no-referrer", "X-Postguard": "1"}


def html_response(status: int, body: str) -> http.Response:
    """An HTML answer from the proxy."""
    return http.Response.make(status, body.encode("utf-8"),
                              _no_store({"Content-Type": "text/html; charset=utf-8"}))


def json_response(status: int, payload: dict[str, Any]) -> http.Response:
    """A JSON answer from the proxy: `{"postguard": {...}}` for the extension to read."""
    return http.Response.make(status, json.dumps({"postguard": payload}).encode("utf-8"),
                              _no_store({"Content-Type": "application/json"}))
