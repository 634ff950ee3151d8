"""Parsing a decoded body: Content-Type, charsets, JSON, urlencoded forms, multipart/form-data.

Every failure is a `BodyError` whose message says what was wrong, never the body itself.
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
    """Decode bytes strictly in `charset` (default UTF-8); BodyError says where it broke."""
    cs = (charset or "utf-8").lower()
    try:
        codec = "utf-8-sig" if cs in ("utf-8", "utf8") else cs
        return data.decode(codec)
    except LookupError:
        raise BodyError(f"{where}: unknown charset {cs!r}") from None
    except UnicodeDecodeError as e:
        raise BodyError(f"{where}: invalid {cs} at byte {e.start}") from None


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


def parse_form(text: str, where: str = "body") -> list[tuple[str, str]]:
    """The pairs of an application/x-www-form-urlencoded string (strict: no bare junk)."""
    if not text:
        return []
    try:
        return parse_qsl(text, keep_blank_values=True, strict_parsing=True, errors="strict",
                         max_num_fields=10_000)
    except UnicodeDecodeError as e:
        raise BodyError(f"{where}: percent-encoded bytes are not valid UTF-8 ({e.reason})") from None
    except ValueError as e:
        raise BodyError(f"{where}: malformed form data ({str(e).split(':')[0]})") from None


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
    """The parts of a multipart/form-data body; BodyError when the framing is broken."""
    if not boundary:
        raise BodyError("multipart body without a boundary parameter")
    delim = b"--" + boundary.encode("latin-1")
    if delim not in data:
        raise BodyError("multipart body: boundary not found")
    chunks = data.split(delim)
    if not chunks[-1].startswith(b"--"):
        raise BodyError("multipart body: missing closing boundary (truncated?)")
    parts = []
    for chunk in chunks[1:-1]:
        if chunk.startswith(b"\r\n"):
            chunk = chunk[2:]
        elif chunk.startswith(b"\n"):
            chunk = chunk[1:]
        sep = chunk.find(b"\r\n\r\n")
        skip = 4
        if sep < 0:
            sep, skip = chunk.find(b"\n\n"), 2
        if sep < 0:
            raise BodyError("multipart body: a part has no header/body separator")
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
            raise BodyError("multipart body: a part has no Content-Disposition name")
        fname = params.get("filename")
        if "filename*" in params:  # RFC 5987: utf-8''name
            fname = unquote_plus(params["filename*"].split("''", 1)[-1])
        parts.append(Part(params["name"], fname, headers.get("content-type", ""), payload))
    return parts
