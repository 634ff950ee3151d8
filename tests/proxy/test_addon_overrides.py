"""The override table: single use, expiry, per-host tokens, and its memory bounds."""

from __future__ import annotations

from enforce import overrides
from enforce.overrides import Overrides, content_key


def req(n: int) -> tuple[str, str, list[tuple[bytes, bytes]], bytes]:
    return ("POST", "https://www.facebook.com/x", [(b"content-type", b"text/plain")], b"x" * n)


def test_content_key_ignores_nothing_that_matters():
    base = content_key("www.facebook.com", "123", ["Hello there"], [], [], "10.0.0.5")
    assert base == content_key("www.facebook.com", "123", ["  Hello there "], [], [], "10.0.0.5")
    for other in (content_key("www.facebook.com", "456", ["Hello there"], [], [], "10.0.0.5"),
                  content_key("x.com", "123", ["Hello there"], [], [], "10.0.0.5"),
                  content_key("www.facebook.com", "123", ["Hello there!"], [], [], "10.0.0.5"),
                  content_key("www.facebook.com", "123", ["Hello there"], ["https://a.example"], [], "10.0.0.5"),
                  content_key("www.facebook.com", "123", ["Hello there"], [], [("a.jpg", b"1")], "10.0.0.5"),
                  content_key("www.facebook.com", "123", ["Hello there"], [], [], "10.0.0.6")):
        assert other != base


def test_grant_once_consume_once_and_expiry():
    now = [0.0]
    o = Overrides(60, clock=lambda: now[0])
    t = o.add_pending("k", "www.facebook.com", {}, None)
    assert o.get_pending(t, "x.com") is None                 # bound to its host
    assert o.grant(t, "www.facebook.com") is not None
    assert o.grant(t, "www.facebook.com") is None            # single use
    assert o.consume("k") and not o.consume("k")
    t2 = o.add_pending("k2", "www.facebook.com", {}, None)
    now[0] = 61
    assert o.grant(t2, "www.facebook.com") is None           # warning expired
    t3 = o.add_pending("k3", "www.facebook.com", {}, None)
    o.grant(t3, "www.facebook.com")
    now[0] = 200
    assert not o.consume("k3")                               # override expired


def test_pending_entries_and_bytes_are_bounded(monkeypatch):
    monkeypatch.setattr(overrides, "MAX_PENDING_BYTES", 10_000)
    o = Overrides(600)
    tokens = [o.add_pending(f"k{i}", "www.facebook.com", {}, req(3_000)) for i in range(10)]
    assert o._bytes <= 10_000 and len(o) <= 4
    assert o.get_pending(tokens[0], "www.facebook.com") is None   # oldest forgotten first
    assert o.get_pending(tokens[-1], "www.facebook.com") is not None
    monkeypatch.setattr(overrides, "MAX_PENDING", 5)
    for i in range(20):
        o.add_pending(f"n{i}", "www.facebook.com", {}, None)
    assert len(o) <= 5
