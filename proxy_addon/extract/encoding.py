"""Undoing a request body's Content-Encoding (gzip, deflate, br, zstd) within a size bound.

Every failure is a `BodyError` whose message says what was wrong, never the body itself; a body
that would decode past the bound (a compression bomb) is one.
"""

from __future__ import annotations

import zlib

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
