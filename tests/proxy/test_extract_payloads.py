"""Every request shape in the payload collection: what extraction finds, and what the checker says."""

from __future__ import annotations

import gzip
import importlib.util
import zlib
from pathlib import Path

import brotli
import pytest
import zstandard

from checker import check
from proxy_addon.extract import as_post, extract, extract_websocket

_spec = importlib.util.spec_from_file_location("pg_cases", Path(__file__).parent / "data" / "cases.py")
cases = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(cases)

NAMES = cases.names()
READABLE = [n for n in NAMES if cases.EXPECT[n][3] is None]


def sub_of(name, policy, text=None):
    if name in cases.WEBSOCKET:
        url, msg = cases.ws_message(text)
        return extract_websocket(url, msg, policy)
    method, url, headers, body = cases.request(name, text)
    return extract(method, url, headers, body, policy)


def test_every_payload_file_has_an_expectation():
    assert len(NAMES) >= 23
    assert set(NAMES) == set(cases.EXPECT)


@pytest.mark.parametrize("name", NAMES)
def test_extracts_kind_target_and_text(name, policy):
    spec, kind, target, unreadable = cases.EXPECT[name]
    sub = sub_of(name, policy)
    assert sub is not None
    assert (sub.spec, sub.kind, sub.target) == (spec, kind, target)
    if unreadable:
        assert unreadable in (sub.unreadable or "")
        assert sub.texts == []
    else:
        assert sub.unreadable is None
        assert any(t.startswith(cases.SAMPLE) for t in sub.texts), sub.texts
        # nothing machine-made slipped in: every text is the sample or other typed text
        for t in sub.texts:
            assert " " in t and "urn:" not in t and "{" not in t


@pytest.mark.parametrize("name", sorted(cases.LINKS))
def test_links(name, policy):
    assert cases.LINKS[name] in sub_of(name, policy).links


@pytest.mark.parametrize("name", READABLE)
@pytest.mark.parametrize(("text", "rule"), [(cases.PRIVACY, "student-privacy"), (cases.THREAT, "conduct")])
def test_violating_variant_fires(name, text, rule, policy):
    sub = sub_of(name, policy, text)
    assert text in sub.text
    assert cases.SAMPLE not in sub.text
    assert rule in check(as_post(sub), policy).fired


@pytest.mark.parametrize("name", READABLE)
@pytest.mark.parametrize("text", [cases.SAMPLE, cases.CLEAN])
def test_clean_variant_passes(name, text, policy):
    sub = sub_of(name, policy, None if text == cases.SAMPLE else text)
    assert list(check(as_post(sub), policy).fired) == []


def test_graph_page_feed_goes_to_the_sponsored_page(policy):
    v = check(as_post(sub_of("facebook_graph_page_feed", policy, cases.PRIVACY)), policy)
    assert v.account == "sponsored"
    # the roster marks this student's directory information as withheld: D7 on a sponsored page
    assert {"directory-opt-out", "student-privacy"} <= set(v.fired)
    assert check(as_post(sub_of("facebook_web_timeline_post", policy)), policy).account == "personal"


def _encoders():
    def deflate_raw(b):
        c = zlib.compressobj(wbits=-15)
        return c.compress(b) + c.flush()
    return {"gzip": gzip.compress, "deflate": zlib.compress, "deflate-raw": deflate_raw,
            "br": brotli.compress, "zstd": zstandard.ZstdCompressor().compress}


@pytest.mark.parametrize("coding", sorted(_encoders()))
@pytest.mark.parametrize("name", [n for n in READABLE if n not in cases.WEBSOCKET | cases.BINARY])
def test_compressed_bodies_give_the_same_submission(name, coding, policy):
    method, url, headers, body = cases.request(name, cases.THREAT)
    wire = _encoders()[coding](body)
    h = {**headers, "Content-Encoding": coding.split("-")[0]}
    plain = extract(method, url, headers, body, policy)
    assert extract(method, url, h, wire, policy) == plain
