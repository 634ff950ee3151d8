"""Shared matching helpers for rules: lexicon forms, a normalized token string, patterns."""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass
from functools import lru_cache

from checker.text import (
    MASKS,
    Folded,
    Token,
    deleet,
    destretch,
    joined_letter_runs,
    squeeze_variants,
    words,
)

SUFFIXES = ("", "s", "es", "ed", "ing", "er", "ers", "y", "z")

# Words repeat across posts ("the", "game"), so per-word answers are remembered in LRU caches
# with a stated bound: at most CACHE_ENTRIES words of at most CACHED_WORD_CHARS characters each
# (a longer "word" is a URL, base64 or padding: worked out every time, never kept). Measured at
# under 400 bytes an entry at the longest key, each cache stays under 20 MB, and the three a
# policy has (two lexicons, the normalized words) under 60 MB together (tests/hostile checks it).
CACHE_ENTRIES = 50_000
CACHED_WORD_CHARS = 64


def drivers_text(folded: Folded, top: tuple[tuple[str, float, int, int], ...]) -> tuple[tuple[int, int], str]:
    """A model finding's span (its top word, in the original text) and "'w1', 'w2'" for its reason.

    `top` is (word, contribution, start, end) in the folded text, from a linear model's score or
    the encoder's occlusion (`Encoder.drivers`)."""
    words_ = ", ".join(f"'{folded.original[slice(*folded.span(a, b))]}'" for _, _, a, b in top)
    return folded.span(top[0][2], top[0][3]), words_


def inflect(words_: tuple[str, ...]) -> dict[str, str]:
    """Every word with its common suffixes -> the base word."""
    out: dict[str, str] = {}
    for w in words_:
        w = w.lower()
        for s in SUFFIXES:
            out.setdefault(w + s, w)
        if w.endswith("e"):
            out.setdefault(w[:-1] + "ing", w)
            out.setdefault(w + "d", w)
    return out


@dataclass(frozen=True)
class WordHit:
    """A lexicon word found in the text: folded span, base word, and how it was disguised."""

    start: int
    end: int
    base: str
    disguised: bool


class Lexicon:
    """Whole-word matching that undoes leetspeak, masks, stretching and spaced-out letters."""

    def __init__(self, base_words: tuple[str, ...]) -> None:
        single = tuple(w for w in base_words if " " not in w)
        self.forms = inflect(single)
        self._cached = lru_cache(maxsize=CACHE_ENTRIES)(self._lookup_uncached)
        self.by_len: dict[int, list[str]] = {}
        for f in self.forms:
            self.by_len.setdefault(len(f), []).append(f)

    def _lookup(self, word: str) -> tuple[str | None, bool]:
        return self._cached(word) if len(word) <= CACHED_WORD_CHARS else self._lookup_uncached(word)

    def _lookup_uncached(self, word: str) -> tuple[str | None, bool]:
        forms = self.forms
        if word in forms:
            return forms[word], False
        d = deleet(word)
        for v in squeeze_variants(d):
            if v in forms:
                return forms[v], v != word
        if any(c in MASKS for c in word) and any(c.isalpha() for c in word):
            stripped = "".join(c for c in d if c not in MASKS)
            if len(stripped) >= 3 and stripped in forms and len(stripped) * 2 - 1 == len(d):
                return forms[stripped], True  # f_u_c_k
            same_length = self.by_len.get(len(d))
            if same_length:  # no pattern for a word no form is as long as (`re` keeps 512 compiled)
                pat = re.compile("".join("[a-z]" if c in MASKS else re.escape(c) for c in d))
                for cand in same_length:
                    if pat.fullmatch(cand):
                        return self.forms[cand], True
        return None, False

    def find(self, tokens: list[Token], folded: str) -> list[WordHit]:
        """Lexicon words among tokens (and among spaced-out letter runs)."""
        hits = []
        for t in tokens:
            base, disguised = self._lookup(t.text)
            if base is not None:
                hits.append(WordHit(t.start, t.end, base, disguised))
        for t in joined_letter_runs(tokens, folded):
            base, _ = self._lookup(t.text)
            if base is not None:
                hits.append(WordHit(t.start, t.end, base, True))
        return hits


def _norm_word_uncached(word: str) -> str:
    # A trailing "!" is punctuation, not a leet "i": "I know where you live!" must read "live",
    # not "livei" ("sh!t" keeps its "!" inside the word).
    raw = word.replace("'", "")
    return destretch(deleet(raw.rstrip("!") or raw))


_norm_word_cached = lru_cache(maxsize=CACHE_ENTRIES)(_norm_word_uncached)


def norm_word(word: str) -> str:
    """One token deleeted, de-stretched and apostrophe-free (remembered, bounded as above)."""
    return _norm_word_cached(word) if len(word) <= CACHED_WORD_CHARS else _norm_word_uncached(word)


class NormString:
    """Tokens deleeted, de-stretched and apostrophe-free, joined by spaces, for phrase patterns."""

    def __init__(self, folded: Folded, tokens: list[Token] | None = None) -> None:
        toks = tokens if tokens is not None else words(folded.text)
        parts: list[str] = []
        self.offs: list[tuple[int, int, int]] = []  # norm start, folded start, folded end
        pos = 0
        for t in toks:
            w0 = norm_word(t.text)
            parts.append(w0)
            self.offs.append((pos, t.start, t.end))
            pos += len(w0) + 1
        self.text = " ".join(parts)
        self.folded = folded
        self._keys = [o[0] for o in self.offs]

    def span(self, a: int, b: int) -> tuple[int, int]:
        """Original-text span of norm-string chars [a, b)."""
        keys = self._keys
        i = max(bisect.bisect_right(keys, a) - 1, 0)
        j = max(bisect.bisect_right(keys, max(b - 1, a)) - 1, 0)
        return self.folded.span(self.offs[i][1], self.offs[j][2])


def one_regex(patterns: list[re.Pattern[str]]) -> re.Pattern[str]:
    """Several compiled patterns as one alternation (named groups must not repeat)."""
    return re.compile("|".join(f"(?:{p.pattern})" for p in patterns))


def alternation(items: tuple[str, ...] | list[str]) -> str:
    """A regex alternation of literal phrases, longest first."""
    return "|".join(re.escape(i.lower()) for i in sorted(set(items), key=len, reverse=True))


def compile_patterns(patterns: list[str], subs: dict[str, str], where: str) -> list[re.Pattern[str]]:
    """Compile patterns with {placeholders}; a bad pattern raises ValueError naming it."""
    out = []
    for p in patterns:
        src = p
        for k, v in subs.items():
            src = src.replace("{" + k + "}", f"(?:{v})")
        try:
            out.append(re.compile(src))
        except re.error as e:
            raise ValueError(f"{where}: bad pattern {p!r}: {e}") from None
    return out


def compile_table(table: dict[str, list[str]], where: str) -> list[tuple[str, re.Pattern[str]]]:
    """Compile {category: [regex...]} into one pattern per category."""
    out = []
    for cat, pats in table.items():
        try:
            # An empty list must match nothing (an empty regex would match everything).
            out.append((cat, re.compile("|".join(f"(?:{p})" for p in pats) or r"(?!x)x")))
        except re.error as e:
            raise ValueError(f"{where}.{cat}: bad pattern: {e}") from None
    return out
