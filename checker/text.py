"""Text folding that sees through disguises, with a map back to the original characters.

`fold()` lower-cases, applies NFKC, strips accents, drops zero-width and other format
characters and maps look-alike letters from other scripts to Latin. Every folded character
remembers the index of the original character it came from, so findings can cite spans of
the text the user actually typed.
"""

from __future__ import annotations

import bisect
import re
import unicodedata
from dataclasses import dataclass

# Look-alike letters from Cyrillic, Greek and other scripts that people use to dodge filters.
CONFUSABLES: dict[str, str] = {
    "а": "a", "в": "b", "е": "e", "ё": "e", "к": "k", "м": "m", "н": "h", "о": "o", "р": "p",
    "с": "c", "т": "t", "у": "y", "х": "x", "і": "i", "ї": "i", "ј": "j", "ѕ": "s", "ԁ": "d",
    "ɡ": "g", "һ": "h", "ӏ": "l", "ү": "y", "ԛ": "q", "ԝ": "w", "α": "a", "β": "b", "γ": "y",
    "ε": "e", "ι": "i", "κ": "k", "ν": "v", "ο": "o", "ρ": "p", "τ": "t", "υ": "u", "χ": "x",
    "ω": "w", "ѵ": "v", "ᴀ": "a", "ʙ": "b", "ᴄ": "c", "ᴅ": "d", "ᴇ": "e", "ɢ": "g", "ʜ": "h",
    "ɪ": "i", "ᴊ": "j", "ᴋ": "k", "ʟ": "l", "ᴍ": "m", "ɴ": "n", "ᴏ": "o", "ᴘ": "p", "ʀ": "r",
    "ꜱ": "s", "ᴛ": "t", "ᴜ": "u", "ᴠ": "v", "ᴡ": "w", "ʏ": "y", "ᴢ": "z", "ı": "i", "ł": "l",
    "ø": "o", "đ": "d", "ß": "ss", "æ": "ae", "œ": "oe", "þ": "th",
    "\u2019": "'", "\u2018": "'", "\u02bc": "'", "\u2032": "'", "`": "'",
}
# Digits and symbols read as letters inside a word ("sh!t", "b1tch", "@ss").
LEET: dict[str, str] = {
    "0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "8": "b", "9": "g",
    "@": "a", "$": "s", "!": "i", "|": "l", "+": "t", "€": "e", "£": "l", "(": "c",
}
MASKS = frozenset("*#_%")


@dataclass(frozen=True)
class Folded:
    """Folded text and, for each of its characters, the index of the source character."""

    text: str
    src: tuple[int, ...]
    original: str

    def slice(self, start: int, end: int) -> str:
        """The folded text of original characters [start, end) (no second fold)."""
        return self.text[bisect.bisect_left(self.src, start):bisect.bisect_left(self.src, end)]

    def span(self, start: int, end: int) -> tuple[int, int]:
        """The original span [a, b) behind folded characters [start, end)."""
        if start >= len(self.src):
            return (len(self.original), len(self.original))
        a = self.src[start]
        b = self.src[end - 1] + 1 if end > start else a
        return (a, b)


def _fold_char(ch: str) -> str:
    if ch in CONFUSABLES:
        return CONFUSABLES[ch]
    cat = unicodedata.category(ch)
    if cat == "Cf" or cat == "Mn":  # zero-width joiners, soft hyphens, combining marks
        return ""
    if cat == "Cc":
        return " " if ch in "\n\r\t\v\f" else ""
    if ord(ch) < 128:
        return ch.lower()
    out = []
    for c in unicodedata.normalize("NFKD", ch):
        if unicodedata.category(c) == "Mn":
            continue
        c = c.lower()
        out.append(CONFUSABLES.get(c, c))
    return "".join(out)


_FOLD_CACHE: dict[str, str] = {}


# Three or more single letters with one separator between them: "T y l e r", "V.O.T.E".
_SPACED = re.compile(r"(?<![a-z0-9@$!|+*#%'])[a-z](?:[ .\-_*~][a-z]){2,}(?![a-z0-9@$!|+*#%'])")
# Once a post spells words out, two-letter words are spelled out too ("V O T E  N O").
_SPACED2 = re.compile(r"(?<![a-z0-9@$!|+*#%'])[a-z][ .\-_*~][a-z](?![a-z0-9@$!|+*#%'])")


def _single_spaces(text: str, src: list[int]) -> tuple[str, list[int]]:
    keep = [not (c == " " and i and text[i - 1] == " ") for i, c in enumerate(text)]
    return "".join(c for c, k in zip(text, keep, strict=True) if k), [s for s, k in zip(src, keep, strict=True) if k]


def deleet_text(folded: str) -> str:
    """Folded text with digits and symbols inside words read as letters; same length, so
    the offset map of the folded text still applies ("pr0mo c0de" -> "promo code")."""
    return _WORD.sub(_deleet_inner, folded)


_EDGE_PUNCT = "!|+("  # at the edge of a word these are punctuation ("you!"), not letters


def _deleet_inner(m: re.Match[str]) -> str:
    w = m.group()
    core = w.rstrip(_EDGE_PUNCT)
    return deleet(core) + w[len(core):] if core else w


def fold(text: str) -> Folded:
    """Fold `text` for matching (see module doc), keeping the offset map.

    Also splits hashtags at case and digit changes ("#TylerQuinlan" -> "#tyler quinlan") and
    joins words spelled out letter by letter ("T y l e r  Q u i n l a n" -> "tyler  quinlan").
    """
    folded = text.translate(_TABLE) if "#" not in text else ""
    if folded and len(folded) == len(text) and _ODD.isdisjoint(map(ord, text)):
        # Fast path (most posts): every character folds to exactly one, so offsets are 1:1.
        src: list[int] = list(range(len(text)))
    else:
        folded, src = _fold_slow(text)
    return _finish(text, folded, src)


class _FoldTable(dict[int, str]):
    """str.translate table that folds each character on first sight and remembers it."""

    def __missing__(self, key: int) -> str:
        f = _fold_char(chr(key))
        if len(f) != 1:
            _ODD.add(key)
        if len(self) < 20000:
            self[key] = f
        return f


_ODD: set[int] = set()  # characters that fold to nothing or to several characters
_TABLE = _FoldTable()


def _fold_slow(text: str) -> tuple[str, list[int]]:
    """Character by character: hashtag splitting and folds that change the length."""
    out: list[str] = []
    src: list[int] = []
    cache = _FOLD_CACHE
    in_tag = False
    prev = ""
    for i, ch in enumerate(text):
        if ch == "#":
            in_tag = True
        elif in_tag:
            if not (ch.isalnum() or ch == "_"):
                in_tag = False
            elif prev.isalnum() and ((prev.islower() and ch.isupper()) or (prev.isalpha() != ch.isalpha())):
                out.append(" ")
                src.append(i)
        prev = ch
        f = cache.get(ch)
        if f is None:
            f = _fold_char(ch)
            if len(cache) < 20000:
                cache[ch] = f
        if len(f) == 1:
            out.append(f)
            src.append(i)
        elif f:
            out.extend(f)
            src.extend([i] * len(f))
    return "".join(out), src


def _word_breaks(text: str, folded: str, src: list[int], keep: bytearray) -> None:
    """Inside a word spelled out letter by letter, a capital after small letters starts the next
    word ("T y l e r Q u i n l a n" -> "tyler quinlan", as with two spaces): keep that
    separator as a space (keep[j] = 2). A single small letter before it ("f U c K") is no word."""
    run = 0  # letters of the word being spelled out, since the last break
    for j, c in enumerate(folded):
        if keep[j] == 0:  # a separator the spelled-out word is joined across
            if 0 < j < len(folded) - 1:
                a, b = text[src[j - 1]], text[src[j + 1]]
                nxt = text[src[j + 3]] if j + 3 < len(folded) and keep[j + 2] == 0 else ""
                if run >= 2 and a.islower() and b.isupper() and nxt.islower():
                    keep[j] = 2
                    run = 0
            continue
        run = run + 1 if c.isalpha() else 0


def _finish(text: str, folded: str, src: list[int]) -> Folded:
    """Join spelled-out words and collapse runs of spaces, keeping the offset map."""
    if _SPACED.search(folded):
        keep = bytearray(b"\x01") * len(folded)
        for pat in (_SPACED, _SPACED2):
            for m in pat.finditer(folded):
                for j in range(m.start() + 1, m.end(), 2):
                    keep[j] = 0
        _word_breaks(text, folded, src, keep)
        folded = "".join(" " if k == 2 else c for c, k in zip(folded, keep, strict=True) if k)
        src = [s for s, k in zip(src, keep, strict=True) if k]
    if "  " in folded:  # runs of spaces count as one (after the letter joining, which reads them)
        folded, src = _single_spaces(folded, src)
    return Folded(folded, tuple(src), text)


# A word: letters, digits and the symbols people substitute for letters or use as masks.
_WORD = re.compile(r"[a-z0-9@$!|+€£*#_%']*[a-z0-9@$*#_%][a-z0-9@$!|+€£*#_%']*")


@dataclass(frozen=True)
class Token:
    """A word of the folded text: its folded form and its folded span."""

    text: str
    start: int
    end: int


def words(folded: str) -> list[Token]:
    """Split folded text into word tokens."""
    return [Token(m.group().strip("'"), m.start(), m.end()) for m in _WORD.finditer(folded)]


def deleet(word: str) -> str:
    """Read digits and symbols inside a word as letters; pure numbers stay numbers."""
    if word.isalpha() or word.isdigit() or not any(c.isalpha() for c in word):
        return word
    return "".join(LEET.get(c, c) for c in word)


_REPEAT3 = re.compile(r"(.)\1{2,}")
_REPEAT2 = re.compile(r"(.)\1+")


def destretch(word: str) -> str:
    """Letters repeated three or more times cut to two ("sooooo" -> "soo"); doubles stay."""
    return _REPEAT3.sub(r"\1\1", word)


def squeeze_variants(word: str) -> tuple[str, ...]:
    """Forms of a word with stretched letters collapsed ("fuuuuck" -> "fuck", "shiit" -> "shit")."""
    a = _REPEAT3.sub(r"\1\1", word)
    b = _REPEAT2.sub(r"\1", word)
    if a == word and b == word:
        return (word,)
    return tuple(dict.fromkeys((word, a, _REPEAT3.sub(r"\1", word), b)))


def joined_letter_runs(tokens: list[Token], folded: str) -> list[Token]:
    """Words spelled out with separators ("f u c k", "f.u.c.k", "f-u-c-k") joined back up."""
    runs: list[Token] = []
    i = 0
    n = len(tokens)
    while i < n:
        j = i
        while (
            j + 1 < n
            and len(tokens[j].text) == 1
            and len(tokens[j + 1].text) == 1
            and tokens[j + 1].start - tokens[j].end <= 2
            and not folded[tokens[j].end:tokens[j + 1].start].strip(" .-_*~/\\")
        ):
            j += 1
        if j - i >= 2:
            runs.append(Token("".join(t.text for t in tokens[i:j + 1]), tokens[i].start, tokens[j].end))
        i = j + 1
    return runs


_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|\n+")


def sentences(text: str) -> list[tuple[int, int]]:
    """Sentence spans [start, end) of `text` (a simple splitter: good enough for windows)."""
    spans = []
    pos = 0
    for m in _SENTENCE_END.finditer(text):
        if m.start() > pos:
            spans.append((pos, m.start()))
        pos = m.end()
    if pos < len(text):
        spans.append((pos, len(text)))
    return spans


def clean_input(text: str) -> str:
    """Make arbitrary input safe to process: lone surrogates and NULs replaced, never raised."""
    if not text:
        return ""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = text.encode("utf-8", "replace").decode("utf-8")
    return text.replace("\x00", " ")
