"""Hostile request bodies for every site spec, generated from the recorded payloads.

Property-style generation with a seeded `random.Random` (reproducible from a seed alone; the
hypothesis strategies of `strategies.py` reuse these mutations). Each case is a real payload
of `tests/proxy/data/payloads/` with the sample text replaced by a student-privacy violation, then mutated the way an evading
employee or a hostile page would: padding, truncation, flipped bytes, invalid UTF-8, mixed
charsets, base64 wrapping, deep nesting, stacked or false Content-Encodings, broken multipart,
another Content-Type. `bench/fuzz` draws 100,000+ of them; the tests draw a sample.
"""

from __future__ import annotations

import base64
import gzip
import importlib.util
import json
import random
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import brotli
import zstandard

HERE = Path(__file__).resolve().parent
_spec = importlib.util.spec_from_file_location("pg_hostile_cases", HERE.parent / "proxy" / "data" / "cases.py")
assert _spec is not None and _spec.loader is not None
cases = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(cases)

VIOLATION = "Mason Brandt was suspended for three days after the fight."
CTYPES = ["application/json", "application/x-www-form-urlencoded", "text/plain", "application/octet-stream",
          "multipart/form-data; boundary=zzBOUNDARYzz", "application/json; charset=klingon",
          "application/x-www-form-urlencoded; charset=ISO-8859-1", "", "text/plain; charset=utf-16"]


@dataclass(frozen=True)
class Case:
    """One generated request: where it goes, what it carries, and how it was made."""

    name: str          # the payload it came from
    mutation: str      # what was done to it
    method: str
    url: str
    headers: dict[str, str]
    body: bytes
    violating: bool    # the violation's text is still in the body as sent (not cut away)


def _http_payloads() -> list[str]:
    return [n for n in cases.names() if n not in cases.WEBSOCKET and n not in cases.BINARY]


def _pad(r: random.Random, body: bytes, ctype: str) -> tuple[bytes, str]:
    junk = r.choice([b"&&", b"&x", b"&x=%ff", b"&=", b"&%zz=1", b"&&&===&", b"\x00", b" " * 1000,
                     b"%", b"&a[]=1&a[=2", b"\r\n\r\n", b"\xef\xbb\xbf"])
    return (junk + body if r.random() < 0.3 else body + junk), ctype


def _truncate(r: random.Random, body: bytes, ctype: str) -> tuple[bytes, str]:
    return body[:r.randrange(0, max(1, len(body)))], ctype


def _flip(r: random.Random, body: bytes, ctype: str) -> tuple[bytes, str]:
    b = bytearray(body)
    for _ in range(r.randint(1, 8)):
        if b:
            b[r.randrange(len(b))] = r.randrange(256)
    return bytes(b), ctype


def _bad_utf8(r: random.Random, body: bytes, ctype: str) -> tuple[bytes, str]:
    i = r.randrange(len(body) + 1)
    return body[:i] + r.choice([b"\xff\xfe", b"\xc3", b"\xed\xa0\x80", b"\xf4\x90\x80\x80", b"\x80"]) + body[i:], ctype


def _mixed(r: random.Random, body: bytes, ctype: str) -> tuple[bytes, str]:
    text = body.decode("utf-8", "replace")
    enc = r.choice(["latin-1", "cp1252", "utf-16", "utf-16-le"])
    return text.encode(enc, "replace"), ctype + "; charset=" + r.choice([enc, "utf-8", "klingon"])


def _b64(r: random.Random, body: bytes, ctype: str) -> tuple[bytes, str]:
    return (base64.urlsafe_b64encode(body) if r.random() < 0.5 else base64.b64encode(body)), r.choice(
        ["text/plain", "application/octet-stream", ctype])


def _retype(r: random.Random, body: bytes, ctype: str) -> tuple[bytes, str]:
    return body, r.choice(CTYPES)


def _nest(r: random.Random, body: bytes, ctype: str) -> tuple[bytes, str]:
    depth = r.choice([41, 100, 1000, 100_000])
    if "json" in ctype:
        return b'{"wrap": ' + b"[" * depth + body + b"]" * depth + b"}", ctype
    return body + b"&deep=" + b"%5B" * depth, ctype


def _multipart(r: random.Random, body: bytes, ctype: str) -> tuple[bytes, str]:
    b = b"zzBOUNDARYzz"
    part = b'--' + b + b'\r\nContent-Disposition: form-data; name="text"\r\n\r\n' + VIOLATION.encode() + b"\r\n"
    broken = r.choice([part, part + b"--" + b, part.replace(b"\r\n\r\n", b"\r\n"),
                       part.replace(b'name="text"', b""), part + b"--" + b + b"--\r\n", b"--" + b + body])
    return broken, "multipart/form-data; boundary=" + b.decode()


MUTATIONS = {"pad": _pad, "truncate": _truncate, "flip": _flip, "bad-utf8": _bad_utf8, "mixed-charset": _mixed,
             "base64": _b64, "retype": _retype, "nest": _nest, "multipart": _multipart}


def _encode(r: random.Random, body: bytes) -> tuple[bytes, str]:
    """A Content-Encoding, sometimes a false or corrupt one."""
    kind = r.choice(["gzip", "deflate", "br", "zstd", "gzip, br", "x-unknown", "gzip-lie", "corrupt-zstd"])
    if kind == "gzip":
        return gzip.compress(body), "gzip"
    if kind == "deflate":
        return zlib.compress(body), "deflate"
    if kind == "br":
        return brotli.compress(body, quality=1), "br"
    if kind == "zstd":
        return zstandard.ZstdCompressor().compress(body), "zstd"
    if kind == "gzip, br":
        return brotli.compress(gzip.compress(body), quality=1), "gzip, br"
    if kind == "gzip-lie":
        return body, "gzip"  # says gzip, is not
    if kind == "corrupt-zstd":
        return b"\x28\xb5\x2f\xfd" + body[:50], "zstd"
    return body, "x-unknown"


def generate(seed: int, n: int) -> Iterator[Case]:
    """`n` hostile cases, the same for the same seed."""
    r = random.Random(seed)
    names = _http_payloads()
    for _ in range(n):
        name = r.choice(names)
        method, url, headers, body = cases.request(name, VIOLATION)
        headers = {k.lower(): v for k, v in headers.items() if k.lower() not in ("content-length",)}
        ctype = headers.get("content-type", "")
        steps = []
        for _ in range(r.randint(1, 3)):
            m = r.choice(list(MUTATIONS))
            body, ctype = MUTATIONS[m](r, body, ctype)
            steps.append(m)
        violating = VIOLATION.encode() in body or base64.b64encode(VIOLATION.encode()[:30]) in body
        if r.random() < 0.25:
            body, coding = _encode(r, body)
            headers["content-encoding"] = coding
            steps.append(f"ce:{coding}")
        if ctype:
            headers["content-type"] = ctype
        else:
            headers.pop("content-type", None)
        yield Case(name, "+".join(steps), method, url, headers, body, violating)


def bombs() -> list[tuple[str, bytes]]:
    """(Content-Encoding, body) bombs: a few KB on the wire, 100 MB and more decoded."""
    zeros = b"\x00" * (100 * 1024 * 1024)
    return [("gzip", gzip.compress(zeros, 9)), ("deflate", zlib.compress(zeros, 9)),
            ("br", brotli.compress(zeros, quality=11)), ("zstd", zstandard.ZstdCompressor(level=19).compress(zeros)),
            ("gzip, gzip", gzip.compress(gzip.compress(zeros, 9), 9))]


def har_mutants(seed: int, n: int) -> Iterator[dict]:
    """HAR documents with fields missing, of the wrong type, or junk."""
    r = random.Random(seed)
    base = [e for _, e in cases.payload_entries(VIOLATION)]
    for _ in range(n):
        entry = json.loads(json.dumps(r.choice(base)))
        req = entry["request"]
        what = r.choice(["no-request", "no-url", "no-method", "url-int", "headers-junk", "postdata-list",
                         "text-int", "bad-base64", "no-postdata", "params-junk", "ws-junk", "entry-str"])
        if what == "no-request":
            entry.pop("request")
        elif what == "no-url":
            req.pop("url")
        elif what == "no-method":
            req.pop("method")
        elif what == "url-int":
            req["url"] = 12
        elif what == "headers-junk":
            req["headers"] = [1, "x", {"name": 5}, {"value": "v"}, None]
        elif what == "postdata-list":
            req["postData"] = []
        elif what == "text-int":
            req.setdefault("postData", {})["text"] = 5
        elif what == "bad-base64":
            req["postData"] = {"mimeType": "application/json", "text": "@@@not base64", "encoding": "base64"}
        elif what == "no-postdata":
            req.pop("postData", None)
        elif what == "params-junk":
            req["postData"] = {"mimeType": "x", "params": [1, {"name": None}, {"value": []}]}
        elif what == "ws-junk":
            entry["_webSocketMessages"] = [None, {"type": "send", "opcode": 2, "data": "%%%"}, {"type": "send"}]
        else:
            entry = "not an entry"
        yield {"log": {"version": "1.2", "entries": [entry]}}
