"""Parsing a decoded body: Content-Type, charsets, JSON, urlencoded forms, multipart/form-data.

Parsing is as lenient as the sites' own servers are, so that padding a body cannot make it
unreadable here while the site still takes it: invalid UTF-8 and unknown charsets decode with
U+FFFD, a form's empty pairs, bare keys and bad %-escapes are read the way PHP and the common
web frameworks read them. What still fails (malformed JSON, nesting past Python's limit, broken
multipart framing) is a `BodyError` whose message says what was wrong, never the body itself;
the caller then scans the raw bytes (`salvage.py`).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, unquote_plus

from proxy_addon.extract.model import BodyError


def parse_content_type(value: str | None) -> tuple[str, dict[str, str]]:
    """("type/subtype" lower-cased, {param: value}) of a Content-Type header."""
    if not value:
        return "", {}
    main, *params = value.split(";")
    out = {}
    for p in params:
        if "=" in p:
            k, v = p.split("=", 1)
            out[k.strip().lower()] = v.strip().strip('"')
    return main.strip().lower(), out


def to_text(data: bytes, charset: str | None, where: str = "body") -> str:
    """Decode bytes in `charset` (default UTF-8; an unknown charset is read as UTF-8), invalid
    bytes as U+FFFD: a server that takes the post reads its text too, so must we."""
    cs = (charset or "utf-8").lower().strip()
    codec = "utf-8-sig" if cs in ("utf-8", "utf8") else cs
    try:
        "".encode(codec)  # is it a text codec at all (not base64_codec, rot13...)?
        return data.decode(codec, "replace")
    except (LookupError, TypeError, ValueError):
        return data.decode("utf-8-sig", "replace")


def parse_json(text: str, where: str = "body") -> Any:
    """json.loads with a BodyError naming the position; accepts the `for (;;);` guard prefix."""
    t = text.lstrip()
    if t.startswith("for (;;);"):
        t = t[9:]
    try:
        return json.loads(t)
    except RecursionError:
        raise BodyError(f"{where}: JSON nested too deeply") from None
    except json.JSONDecodeError as e:
        raise BodyError(f"{where}: malformed JSON ({e.msg} at char {e.pos})") from None


MAX_FORM_FIELDS = 100_000


def parse_form(text: str, where: str = "body") -> list[tuple[str, str]]:
    """The pairs of an application/x-www-form-urlencoded string, read as servers read it:
    empty pairs skipped, a bare key has the value '', bad %-escapes stay as they are and
    %-encoded bytes that are not UTF-8 become U+FFFD."""
    if not text:
        return []
    if text.count("&") >= MAX_FORM_FIELDS:
        raise BodyError(f"{where}: more than {MAX_FORM_FIELDS:,} form fields")
    return parse_qsl(text, keep_blank_values=True, strict_parsing=False, errors="replace")


@dataclass
class Part:
    """One part of a multipart/form-data body."""

    name: str
    filename: str | None
    content_type: str
    data: bytes

    def text(self, where: str) -> str:
        """The part as text (its own charset, else UTF-8)."""
        return to_text(self.data, parse_content_type(self.content_type)[1].get("charset"), where)


_DISPO_PARAM = re.compile(r';\s*([a-zA-Z*]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^;]*)')


def parse_multipart(data: bytes, boundary: str | None) -> list[Part]:
    """The parts of a multipart/form-data body, read leniently (a missing closing boundary, a
    part without a name or without headers is what a truncated or padded body looks like: the
    parts that are there still count); BodyError when there is no framing at all."""
    if not boundary:
        raise BodyError("multipart body without a boundary parameter")
    delim = b"--" + boundary.encode("latin-1", "replace")
    if delim not in data:
        raise BodyError("multipart body: boundary not found")
    chunks = data.split(delim)
    body_chunks = chunks[1:-1] if chunks[-1].startswith(b"--") else chunks[1:]
    parts = []
    for chunk in body_chunks:
        if chunk.startswith(b"\r\n"):
            chunk = chunk[2:]
        elif chunk.startswith(b"\n"):
            chunk = chunk[1:]
        sep = chunk.find(b"\r\n\r\n")
        skip = 4
        if sep < 0:
            sep, skip = chunk.find(b"\n\n"), 2
        if sep < 0:
            continue  # no header/body separator: nothing a server would read as a field
        head = chunk[:sep].decode("utf-8", "replace")
        payload = chunk[sep + skip:]
        if payload.endswith(b"\r\n"):
            payload = payload[:-2]
        elif payload.endswith(b"\n"):
            payload = payload[:-1]
        headers = {}
        for line in re.split(r"\r?\n", head):
            if ":" in line:
                k, v = line.split(":", 1)
                headers[k.strip().lower()] = v.strip()
        dispo = headers.get("content-disposition", "")
        params = {k.lower(): v.strip('"') for k, v in _DISPO_PARAM.findall(dispo)}
        if "name" not in params:
            continue  # servers drop a part without a field name
        fname = params.get("filename")
        if "filename*" in params:  # RFC 5987: utf-8''name
            fname = unquote_plus(params["filename*"].split("''", 1)[-1])
        parts.append(Part(params["name"], fname, headers.get("content-type", ""), payload))
    return parts
