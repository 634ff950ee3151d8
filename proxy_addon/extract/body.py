"""Reading a request body: the request as the specs see it (`Req`), parsed on demand.

Everything here is pure Python (no mitmproxy): the add-on hands over raw wire bytes.
Every failure is a `BodyError` whose message says what was wrong, never the body itself.
Content-Encoding is undone in `encoding.py`, the body formats are parsed in `parse.py`; their
functions stay importable from here.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from proxy_addon.extract.encoding import decode_body
from proxy_addon.extract.model import BodyError
from proxy_addon.extract.parse import (
    Part,
    parse_content_type,
    parse_form,
    parse_json,
    parse_multipart,
    to_text,
)

__all__ = ["BodyError", "Part", "Req", "decode_body", "looks_image", "parse_content_type", "parse_form",
           "parse_json", "parse_multipart", "to_text"]


@dataclass
class Req:
    """A request as the specs see it: URL pieces, headers, the decoded body parsed on demand."""

    method: str
    url: str
    headers: Mapping[str, str]
    body: bytes
    host: str = ""
    path: str = ""
    query_string: str = ""

    def __post_init__(self) -> None:
        self.method = self.method.upper()
        self.headers = {k.lower(): v for k, v in self.headers.items()}
        try:
            parts = urlsplit(self.url)
            self.host = (parts.hostname or "").lower()
        except ValueError:
            raise BodyError("malformed URL") from None
        self.path = parts.path or "/"
        self.query_string = parts.query

    @cached_property
    def query(self) -> list[tuple[str, str]]:
        """The URL's query parameters, in order."""
        return parse_qsl(self.query_string, keep_blank_values=True)

    def header(self, name: str) -> str:
        """A header's value ('' when absent)."""
        return self.headers.get(name.lower(), "")

    def q(self, name: str) -> str | None:
        """The first query parameter `name`."""
        return next((v for k, v in self.query if k == name), None)

    @cached_property
    def ctype(self) -> tuple[str, dict[str, str]]:
        """The parsed Content-Type."""
        return parse_content_type(self.header("content-type"))

    @cached_property
    def text(self) -> str:
        """The body as text in its declared charset (UTF-8 by default)."""
        return to_text(self.body, self.ctype[1].get("charset"))

    @cached_property
    def json(self) -> Any:
        """The body parsed as JSON."""
        return parse_json(self.text)

    @cached_property
    def form(self) -> list[tuple[str, str]]:
        """The body as urlencoded pairs."""
        return parse_form(self.text)

    @cached_property
    def parts(self) -> list[Part]:
        """The body as multipart parts."""
        return parse_multipart(self.body, self.ctype[1].get("boundary"))

    def kind_of_body(self) -> str:
        """'json', 'form', 'multipart', 'text', 'binary' or 'empty' from the type and the bytes."""
        if not self.body.strip():
            return "empty"
        t = self.ctype[0]
        if t == "multipart/form-data":
            return "multipart"
        if t == "application/x-www-form-urlencoded":
            return "form"
        if t.endswith("json") or t.endswith("+json"):
            return "json"
        if t.startswith(("application/x-protobuf", "application/protobuf", "application/grpc",
                         "application/octet-stream", "image/", "video/", "audio/",
                         "application/x-thrift", "application/vnd.google.protobuf")):
            return "binary"
        head = self.body.lstrip()[:1]
        if head in (b"{", b"["):
            return "json"
        if b"\x00" in self.body[:512]:
            return "binary"
        if re.fullmatch(rb"[\w.%+\-*~]+=[^\s]*", self.body[:200].split(b"&", 1)[0] + b"="):
            return "form"
        return "text"

    def fields(self) -> dict[str, str]:
        """Form or multipart text fields merged (first value wins), for form-shaped bodies."""
        kind = self.kind_of_body()
        out: dict[str, str] = {}
        if kind == "form":
            for k, v in self.form:
                out.setdefault(k, v)
        elif kind == "multipart":
            for p in self.parts:
                if p.filename is None:
                    out.setdefault(p.name, p.text(f"multipart field {p.name!r}"))
        elif kind == "json" and isinstance(self.json, dict):
            for k, v in self.json.items():
                out.setdefault(k, v if isinstance(v, str) else json.dumps(v))
        return out

    def images(self) -> list[tuple[str, bytes]]:
        """Uploaded image files of a multipart body: (file or field name, bytes)."""
        if self.kind_of_body() != "multipart":
            return []
        out = []
        for p in self.parts:
            if p.filename is not None or p.content_type.lower().startswith("image/"):
                if p.content_type.lower().startswith("image/") or looks_image(p.data):
                    out.append((p.filename or p.name, p.data))
        return out


def looks_image(data: bytes) -> bool:
    """JPEG, PNG, GIF or WebP magic bytes."""
    return data[:3] == b"\xff\xd8\xff" or data[:8] == b"\x89PNG\r\n\x1a\n" or data[:6] in (
        b"GIF87a", b"GIF89a") or (data[:4] == b"RIFF" and data[8:12] == b"WEBP")
