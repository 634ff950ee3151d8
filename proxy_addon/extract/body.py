"""Reading a request body: bounded decompression, charsets, JSON, urlencoded forms, multipart.

Everything here is pure Python (no mitmproxy): the add-on hands over raw wire bytes.
Every failure is a `BodyError` whose message says what was wrong, never the body itself.
"""

from __future__ import annotations

import json
import re
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Any
from urllib.parse import parse_qsl, unquote_plus, urlsplit

import brotli
import zstandard

from proxy_addon.extract.model import BodyError

# Brotli 1.1 has no output limit per call: feed it small slices so one call cannot expand
# past (slice bits / ~26 bits per maximal copy command) x 16 MiB before we look again.
_BROTLI_SLICE = 16


def _inflate_zlib(data: bytes, limit: int, wbits: int) -> bytes:
    d = zlib.decompressobj(wbits)
    out = bytearray()
    buf = data
    while buf:
        out += d.decompress(buf, limit + 1 - len(out))
        if len(out) > limit:
            raise BodyError(f"decoded body exceeds {limit:,} bytes (compression bomb?)")
        buf = d.unconsumed_tail
        if d.eof:
            # gzip allows concatenated members; anything else after the end is junk we ignore
            rest = d.unused_data
            if rest and wbits > 16 and rest[:2] == b"\x1f\x8b":
                d, buf = zlib.decompressobj(wbits), rest
            else:
                break
    if not d.eof and wbits != -15:
        out += d.flush()
    return bytes(out)


def _gunzip(data: bytes, limit: int) -> bytes:
    try:
        return _inflate_zlib(data, limit, 31)
    except zlib.error as e:
        raise BodyError(f"Content-Encoding gzip: corrupt data ({e})") from None


def _inflate(data: bytes, limit: int) -> bytes:
    # "deflate" is zlib-wrapped per RFC 9110, but some servers and clients send raw deflate.
    try:
        return _inflate_zlib(data, limit, 15)
    except zlib.error:
        pass
    try:
        return _inflate_zlib(data, limit, -15)
    except zlib.error as e:
        raise BodyError(f"Content-Encoding deflate: corrupt data ({e})") from None


def _unbrotli(data: bytes, limit: int) -> bytes:
    d = brotli.Decompressor()
    out = bytearray()
    try:
        for i in range(0, len(data), _BROTLI_SLICE):
            out += d.process(data[i:i + _BROTLI_SLICE])
            if len(out) > limit:
                raise BodyError(f"decoded body exceeds {limit:,} bytes (compression bomb?)")
    except brotli.error as e:
        raise BodyError(f"Content-Encoding br: corrupt data ({e})") from None
    if not d.is_finished():
        raise BodyError("Content-Encoding br: truncated data")
    return bytes(out)


def _unzstd(data: bytes, limit: int) -> bytes:
    # One call may expand an RLE block 32,768-fold (4 bytes -> 128 KiB): size the input
    # slices so a single call cannot pass the budget left.
    out = bytearray()
    d = zstandard.ZstdDecompressor().decompressobj()
    i = 0
    try:
        while i < len(data):
            step = max(16, (limit - len(out)) // 32768)
            out += d.decompress(data[i:i + step])
            i += step
            if len(out) > limit:
                raise BodyError(f"decoded body exceeds {limit:,} bytes (compression bomb?)")
            if d.eof:
                rest = d.unused_data + data[i:]
                if not rest:
                    break
                d, data, i = zstandard.ZstdDecompressor().decompressobj(), rest, 0
    except zstandard.ZstdError as e:
        raise BodyError(f"Content-Encoding zstd: corrupt data ({e})") from None
    if not d.eof:
        raise BodyError("Content-Encoding zstd: corrupt or truncated data")
    return bytes(out)


_DECODERS = {"gzip": _gunzip, "x-gzip": _gunzip, "deflate": _inflate, "br": _unbrotli,
             "zstd": _unzstd}


def decode_body(body: bytes, content_encoding: str | None, limit: int) -> bytes:
    """Undo Content-Encoding (gzip, deflate, br, zstd; several in order) without passing `limit`."""
    if len(body) > limit:
        raise BodyError(f"body is {len(body):,} bytes; the limit is {limit:,}")
    codings = [c.strip().lower() for c in (content_encoding or "").split(",") if c.strip()]
    for coding in reversed(codings):  # listed in the order they were applied
        if coding == "identity":
            continue
        fn = _DECODERS.get(coding)
        if fn is None:
            raise BodyError(f"unsupported Content-Encoding {coding!r}")
        body = fn(body, limit)
    return body


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
