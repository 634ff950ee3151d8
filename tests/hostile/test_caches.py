"""The checker's per-word caches are LRU with a stated bound (docs/proxy.md, "Faults and limits"):
at most CACHE_ENTRIES words of at most CACHED_WORD_CHARS characters, under 20 MB each. Before,
they stopped adding at 100,000 entries but kept every key (up to 2,000 characters) for good:
bench/fuzz's RSS grew from 322 to 939 MB."""

from __future__ import annotations

import random
import tracemalloc

from checker.rules import _match

BOUND_PER_CACHE = 20 * 1024 * 1024


def _words(seed: int, n: int, length: int):
    """Distinct words of `length` characters with leet and masks in them (the slow path)."""
    r = random.Random(seed)
    for i in range(n):
        yield (f"{i:x}$" + r.randbytes(length).hex())[:length]


def _traced(fill) -> int:
    tracemalloc.start()
    try:
        fill()
        return tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()


def test_the_lexicon_cache_keeps_at_most_its_bound():
    lex = _match.Lexicon(("fuck", "shit", "damn"))
    held = _traced(lambda: [lex._lookup(w) for w in _words(1, _match.CACHE_ENTRIES + 5000, _match.CACHED_WORD_CHARS)]
                   and None)
    info = lex._cached.cache_info()
    assert info.currsize == _match.CACHE_ENTRIES and info.misses == _match.CACHE_ENTRIES + 5000
    assert held < BOUND_PER_CACHE, f"{held:,} bytes"


def test_the_normalized_word_cache_keeps_at_most_its_bound():
    _match._norm_word_cached.cache_clear()
    held = _traced(lambda: [_match.norm_word(w) for w in _words(2, _match.CACHE_ENTRIES + 5000,
                                                                _match.CACHED_WORD_CHARS)] and None)
    assert _match._norm_word_cached.cache_info().currsize == _match.CACHE_ENTRIES
    assert held < BOUND_PER_CACHE, f"{held:,} bytes"


def test_long_words_are_worked_out_but_never_kept():
    lex = _match.Lexicon(("fuck",))
    long_word = "f" + "u" * 10_000 + "ck"
    assert lex._lookup(long_word) == ("fuck", True)
    assert _match.norm_word(long_word) == "fuuck"
    before = _match._norm_word_cached.cache_info().currsize
    _match.norm_word("z" * 5000)
    assert lex._cached.cache_info().currsize == 0 and _match._norm_word_cached.cache_info().currsize == before


def test_recently_used_words_stay_and_answers_do_not_change():
    lex = _match.Lexicon(("shit",))
    assert lex._lookup("sh1t") == ("shit", True)
    for i, w in enumerate(_words(3, _match.CACHE_ENTRIES, 12)):
        lex._lookup(w)
        if i % 1000 == 0:
            assert lex._lookup("sh1t") == ("shit", True)  # used again: kept (least recently used go)
    hits = lex._cached.cache_info().hits
    assert lex._lookup("sh1t") == ("shit", True) and lex._cached.cache_info().hits == hits + 1

