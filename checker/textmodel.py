"""Small linear text models (word + character n-grams, TF-IDF, logistic regression) with a fast,
dependency-light inference path and per-word explanations.

The featurizer here is the single source of truth: `train/` fits scikit-learn on exactly these
features and exports the vocabulary with `coef * idf` and `idf` per n-gram, so scoring one post
is a few hundred dict lookups (no scikit-learn call per post, whose fixed cost is ~5-10 ms).
Artifacts are `.npz` files in `checker/models/`, loaded once when a rule is built.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from checker.text import deleet, fold

MODELS_DIR = Path(__file__).parent / "models"

# One pass over the folded text: links and @mentions become placeholder words, HTML entities
# are skipped, words keep leet symbols (deleeted below), any other symbol (emoji) is a token.
_TOKEN = re.compile(
    r"(?P<url>https?://\S+|www\.\S+)|(?P<user>@\w+)|&(?:amp|lt|gt|quot);|[a-z0-9@$!*#']+|[^\sa-z0-9]"
)
_REPEAT = re.compile(r"(.)\1{2,}")
_DIGITS = re.compile(r"\d")
CHAR_MIN, CHAR_MAX = 2, 5
PLACEHOLDERS = frozenset(("zurlz", "zuserz"))


@dataclass(frozen=True)
class Word:
    """A token of the folded text and its span in that text."""

    text: str
    start: int
    end: int


def _norm_word(w: str) -> str:
    """A raw word as the models see it ("" = skip)."""
    if w[0] == "&" and len(w) > 1:
        return ""
    if len(w) > 1:
        w = w.strip("'!")  # "idiot!!!" is not leet for "idiotiii"
        if not w:
            return ""
        if not w.isdigit():
            w = _REPEAT.sub(r"\1\1", deleet(w))
        w = _DIGITS.sub("0", w)
        if w == "url":  # OLID's placeholder for links
            w = "zurlz"
    return w


_WORD_CACHE: dict[str, str] = {}


def tokens(folded: str) -> list[Word]:
    """Words (deleeted, stretched letters squeezed, digits as 0), placeholders and symbols."""
    out = []
    cache = _WORD_CACHE
    for m in _TOKEN.finditer(folded):
        raw = m.group()
        w = cache.get(raw)
        if w is None:
            if m.group("url"):
                w = "zurlz"
            elif m.group("user"):
                w = "zuserz"
            else:
                w = _norm_word(raw)
            if len(cache) > 100_000:
                cache.clear()
            cache[raw] = w
        if w:
            out.append(Word(w, m.start(), m.end()))
    return out


@lru_cache(maxsize=50_000)
def char_grams(word: str) -> tuple[str, ...]:
    """Character 2-5-grams of a word padded with spaces (like scikit-learn's char_wb)."""
    p = f" {word} "
    n = len(p)
    return tuple(p[i:i + k] for k in range(CHAR_MIN, CHAR_MAX + 1) for i in range(n - k + 1))


def grams_of(words: list[Word], mask: frozenset[str] = frozenset()) -> list[tuple[str, int]]:
    """Every feature n-gram with the index of the word it belongs to (bigrams: the first word).

    Words in `mask` contribute nothing, not even to bigrams: the identity guard uses this so
    that naming a group ("my gay neighbor") can never be what pushes a score up.
    """
    out: list[tuple[str, int]] = []
    texts = [w.text for w in words]
    for i, w in enumerate(texts):
        if w in mask:
            continue
        out.append(("w " + w, i))
        if i + 1 < len(texts) and texts[i + 1] not in mask:
            out.append(("b " + w + " " + texts[i + 1], i))
        if w not in PLACEHOLDERS:
            for g in char_grams(w):
                out.append(("c" + g, i))
    return out


def analyzer(text: str) -> list[str]:
    """The features of a raw text (training side: fold, normalize, tokenize, n-grams)."""
    return [g for g, _ in grams_of(tokens(fold(text).text))]


@dataclass(frozen=True)
class Score:
    """A model's probability for one text and the words that pushed it up most."""

    prob: float
    top: tuple[tuple[str, float, int, int], ...]  # (word, contribution, start, end) in the folded text


@lru_cache(maxsize=16)
def cached_tokens(folded: str) -> tuple[Word, ...]:
    """tokens() shared by every model that scores the same post."""
    return tuple(tokens(folded))


class TextModel:
    """A binary linear model over TF-IDF word 1-2-grams + char 2-5-grams.

    Features are x_g = tf_g * idf_g / sqrt(sum_g tf_g * idf_g^2) (raw counts). That scaling is
    additive over words, so each word's contribution (its unigram and char n-grams) is computed
    once and cached: scoring a post costs a dict lookup per word and per word pair.
    """

    CACHE_MAX = 200_000

    def __init__(self, path: Path) -> None:
        z = np.load(path, allow_pickle=False)
        self.meta = json.loads(str(z["meta"]))
        grams = z["grams"].tolist()
        wi = z["wi"].astype(np.float64).tolist()
        idf2 = (z["idf"].astype(np.float64) ** 2).tolist()
        self.w: dict[str, tuple[float, float]] = dict(zip(grams, zip(wi, idf2, strict=True), strict=True))
        self.intercept = float(self.meta["intercept"])
        self.name = str(self.meta.get("name", path.stem))
        self._words: dict[str, tuple[float, float]] = {}
        self._guarded: dict[str, tuple[float, float]] = {}

    def word_value(self, word: str, guard: bool = False) -> tuple[float, float]:
        """(sum of coef*idf, sum of idf^2) over a word's unigram and char n-grams.

        With `guard`, a known word whose own weight is not offensive gets no char n-grams: they
        exist to read misspellings and disguises, not to find "dick" in "Dickens".
        """
        cache = self._guarded if guard else self._words
        v = cache.get(word)
        if v is None:
            w = self.w
            d = q = 0.0
            e = w.get("w " + word)
            if e is not None:
                d, q = e
            if word not in PLACEHOLDERS and not (guard and e is not None and e[0] <= 0):
                for g in char_grams(word):
                    e = w.get("c" + g)
                    if e is not None:
                        d += e[0]
                        q += e[1]
            if len(cache) >= self.CACHE_MAX:
                cache.clear()
            v = cache[word] = (d, q)
        return v

    def score(self, folded: str, top_n: int = 3, mask: frozenset[str] = frozenset(), guard: bool = False) -> Score:
        """Probability for folded text and the words (folded spans) that pushed it up most."""
        words = cached_tokens(folded)
        texts = [x.text for x in words]
        n = len(texts)
        per_word = [0.0] * n
        dot = sq = 0.0
        w = self.w
        for i, t in enumerate(texts):
            if t in mask:
                continue
            d, q = self.word_value(t, guard)
            if i + 1 < n and texts[i + 1] not in mask:
                e = w.get("b " + t + " " + texts[i + 1])
                if e is not None:
                    d += e[0]
                    q += e[1]
            per_word[i] = d
            dot += d
            sq += q
        scale = 1.0 / math.sqrt(sq) if sq > 0 else 1.0
        z = self.intercept + dot * scale
        prob = 1.0 / (1.0 + math.exp(-z)) if z > -30 else 0.0
        order = sorted(range(n), key=lambda i: -per_word[i])[:top_n]
        top = tuple(
            (texts[i], per_word[i] * scale, words[i].start, words[i].end)
            for i in order if per_word[i] > 0 and len(texts[i]) > 1
        )
        return Score(prob, top)


_LOADED: dict[str, TextModel] = {}


def load_model(name: str) -> TextModel:
    """The model `checker/models/<name>.npz`, loaded once per process."""
    if name not in _LOADED:
        path = MODELS_DIR / f"{name}.npz"
        if not path.is_file():
            raise ValueError(f"model {name!r}: {path} not found (run `python -m train`)")
        _LOADED[name] = TextModel(path)
    return _LOADED[name]
