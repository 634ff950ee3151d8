"""Body reading: bounded decompression (bombs refused), charsets, malformed JSON, forms and multipart."""

from __future__ import annotations

import gzip
import zlib

import brotli
import pytest
import zstandard

from proxy_addon.extract import BodyError, extract
from proxy_addon.extract.body import decode_body, parse_multipart

LIMIT = 64 * 1024
FB = "https://www.facebook.com/api/graphql/"
X = "https://x.com/i/api/graphql/abc/CreateTweet"
FORM = {"content-type": "application/x-www-form-urlencoded"}
JSON = {"content-type": "application/json"}


def _deflate_raw(b: bytes) -> bytes:
    c = zlib.compressobj(wbits=-15)
    return c.compress(b) + c.flush()


ENCODERS = {"gzip": gzip.compress, "deflate": zlib.compress, "br": lambda b: brotli.compress(b, quality=5),
            "zstd": zstandard.ZstdCompressor().compress}


@pytest.mark.parametrize("coding", sorted(ENCODERS))
def test_round_trip_under_the_limit(coding):
    data = b"hello world " * 1000
    assert decode_body(ENCODERS[coding](data), coding, LIMIT) == data


def test_raw_deflate_and_stacked_encodings():
    data = b'{"a": 1}' * 100
    assert decode_body(_deflate_raw(data), "deflate", LIMIT) == data
    assert decode_body(brotli.compress(gzip.compress(data)), "gzip, br", LIMIT) == data
    assert decode_body(data, "identity", LIMIT) == data


@pytest.mark.parametrize("coding", sorted(ENCODERS))
def test_bomb_is_refused_not_inflated(coding):
    bomb = ENCODERS[coding](b"\0" * (8 * 1024 * 1024))  # a few KB on the wire
    assert len(bomb) < LIMIT
    with pytest.raises(BodyError, match="exceeds 65,536 bytes"):
        decode_body(bomb, coding, LIMIT)


def test_gzip_bomb_through_extract(policy):
    bomb = gzip.compress(b"a" * (20 * 1024 * 1024))
    with pytest.raises(BodyError, match="compression bomb"):
        extract("POST", X, {**JSON, "content-encoding": "gzip"}, bomb, policy)


def test_oversized_raw_body(policy):
    with pytest.raises(BodyError, match="limit"):
        extract("POST", X, JSON, b"{" + b" " * 2000 + b"}", policy, max_bytes=1000)


@pytest.mark.parametrize(("coding", "data", "msg"), [
    ("gzip", b"not gzip at all", "gzip: corrupt"),
    ("deflate", b"\xff\xfe\xfd", "deflate: corrupt"),
    ("br", b"\xff\xff\xff\xff", "br: corrupt"),
    ("br", brotli.compress(b"x" * 1000)[:-3], "br: truncated"),
    ("zstd", b"\x28\xb5\x2f\xfdjunk", "zstd: corrupt"),
    ("compress", b"data", "unsupported Content-Encoding 'compress'"),
])
def test_corrupt_or_unknown_encoding(coding, data, msg):
    with pytest.raises(BodyError, match=msg):
        decode_body(data, coding, LIMIT)


@pytest.mark.parametrize(("url", "headers", "body", "msg"), [
    (X, JSON, b'{"variables": {"tweet_text": "hi"', "malformed JSON"),
    (X, JSON, b"[" * 100_000, "nested too deeply"),
    (FB, FORM, b"fb_api_req_friendly_name=ComposerStoryCreateMutation&variables=%7B%22input%22",
     "malformed JSON"),
    ("https://i.instagram.com/api/v1/media/configure/", FORM, b"signed_body=SIGNATURE.%7Bbroken",
     "signed_body"),
    (FB, {"content-type": "multipart/form-data"}, b"--x\r\n\r\n--x--", "without a boundary"),
    (FB, {"content-type": "multipart/form-data; boundary=zz"}, b"no boundary here", "boundary not found"),
])
def test_malformed_bodies_raise_body_error(url, headers, body, msg, policy):
    with pytest.raises(BodyError, match=msg):
        extract("POST", url, headers, body, policy)


def test_body_error_never_quotes_the_body(policy):
    secret = "Mason Brandt"
    with pytest.raises(BodyError) as e:
        extract("POST", X, JSON, f'{{"variables": {{"tweet_text": "{secret}"'.encode(), policy)
    assert secret not in str(e.value)


def test_multipart_parts_and_filenames():
    body = (b'--b\r\nContent-Disposition: form-data; name="message"\r\n\r\nhi there\r\n'
            b'--b\r\nContent-Disposition: form-data; name="source"; filename*=utf-8\'\'caf%C3%A9.png\r\n'
            b"Content-Type: image/png\r\n\r\n\x89PNG\r\n\x1a\nrest\r\n--b--\r\n")
    parts = parse_multipart(body, "b")
    assert [(p.name, p.filename) for p in parts] == [("message", None), ("source", "café.png")]
    assert parts[1].data == b"\x89PNG\r\n\x1a\nrest"


def test_latin1_charset_is_honoured(policy):
    body = b"fb_api_req_friendly_name=ComposerStoryCreateMutation&variables=" + \
        b'{"input":{"message":{"text":"Caf\xe9 night, go team!"}}}'.replace(b"{", b"%7B").replace(b"}", b"%7D")
    # the %-decoded bytes are UTF-8 by definition of the form encoding; the raw é is latin-1
    sub = extract("POST", FB, {"content-type": "application/x-www-form-urlencoded; charset=ISO-8859-1"},
                  body, policy)
    assert sub.texts == ["Café night, go team!"]


SHAPES = [b"[]", b"1", b'"x"', b"null", b'{"variables": []}', b'{"variables": "x"}', b'{"record": []}',
          b'{"items": "x"}', b'{"text": 5}', b'{"input": {"message": 7}}', b"variables=5", b"variables=%5B%5D",
          b"data=%5B1%5D", b"signed_body=SIG.%5B1%5D", b"payload_json=1", b"thread_ids=x", b"text=%00"]
CTYPES = [None, "application/json", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x",
          "text/plain; charset=utf-16"]


def test_mangled_payloads_raise_only_body_error(policy):
    """Truncated, retyped and random bodies on every spec's endpoint: a result or BodyError, never a crash."""
    import importlib.util
    import random
    from pathlib import Path

    from proxy_addon.extract import extract_websocket

    spec = importlib.util.spec_from_file_location("pg_cases", Path(__file__).parent / "data" / "cases.py")
    cases = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(cases)
    rnd = random.Random(14)
    tried = 0
    for name in cases.names():
        if name in cases.WEBSOCKET:
            url, msg = cases.ws_message()
            for i in range(0, len(msg), 7):
                extract_websocket(url, msg[:i] + bytes(rnd.getrandbits(8) for _ in range(5)), policy)
            continue
        method, url, headers, body = cases.request(name)
        bodies = [body[:i] for i in range(0, len(body), max(1, len(body) // 25))] + SHAPES
        bodies += [bytes(rnd.getrandbits(8) for _ in range(64)) for _ in range(5)]
        for b in bodies:
            for ct in [headers.get("content-type"), *CTYPES]:
                tried += 1
                try:
                    extract(method, url, {"content-type": ct} if ct else {}, b, policy)
                except BodyError:
                    pass
    assert tried > 2000
