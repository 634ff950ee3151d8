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


def tokens(folded: str) -> list[Word]:
    """Words (deleeted, stretched letters squeezed, digits as 0), placeholders and symbols."""
    out = []
    for m in _TOKEN.finditer(folded):
        if m.group("url"):
            w = "zurlz"
        elif m.group("user"):
            w = "zuserz"
        else:
            w = m.group()
            if w[0] == "&" and len(w) > 1:
                continue
            if len(w) > 1:
                w = w.strip("'!")  # "idiot!!!" is not leet for "idiotiii"
                if not w:
                    continue
                if not w.isdigit():
                    w = _REPEAT.sub(r"\1\1", deleet(w))
                w = _DIGITS.sub("0", w)
                if w == "url":  # OLID's placeholder for links
                    w = "zurlz"
        out.append(Word(w, m.start(), m.end()))
    return out


@lru_cache(maxsize=50_000)
def char_grams(word: str) -> tuple[str, ...]:
    """Character 2-5-grams of a word padded with spaces (like scikit-learn's char_wb)."""
    p = f" {word} "
    n = len(p)
    return tuple(p[i:i + k] for k in range(CHAR_MIN, CHAR_MAX + 1) for i in range(n - k + 1))


def grams_of(words: list[Word]) -> list[tuple[str, int]]:
    """Every feature n-gram with the index of the word it belongs to (bigrams: the first word)."""
    out: list[tuple[str, int]] = []
    texts = [w.text for w in words]
    for i, w in enumerate(texts):
        out.append(("w " + w, i))
        if i + 1 < len(texts):
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


class TextModel:
    """A binary linear model over TF-IDF (sublinear tf, L2 norm) word 1-2-grams + char 2-5-grams."""

    def __init__(self, path: Path) -> None:
        z = np.load(path, allow_pickle=False)
        self.meta = json.loads(str(z["meta"]))
        grams = z["grams"].tolist()
        self.w: dict[str, tuple[float, float]] = dict(
            zip(grams, zip(z["wi"].astype(np.float64).tolist(), z["idf"].astype(np.float64).tolist(), strict=True),
                strict=True)
        )
        self.intercept = float(self.meta["intercept"])
        self.name = str(self.meta.get("name", path.stem))

    def score(self, folded: str, top_n: int = 3) -> Score:
        """Probability for folded text and the words (folded spans) that pushed it up most."""
        words = tokens(folded)
        gs = grams_of(words)
        counts: dict[str, int] = {}
        owner: dict[str, int] = {}
        for g, i in gs:
            if g in counts:
                counts[g] += 1
            else:
                counts[g] = 1
                owner[g] = i
        w = self.w
        dot = 0.0
        sq = 0.0
        per_word = [0.0] * len(words)
        for g, c in counts.items():
            e = w.get(g)
            if e is None:
                continue
            tf = 1.0 + math.log(c) if c > 1 else 1.0
            contrib = tf * e[0]
            dot += contrib
            sq += (tf * e[1]) ** 2
            per_word[owner[g]] += contrib
        norm_l2 = math.sqrt(sq) or 1.0
        z = self.intercept + dot / norm_l2
        prob = 1.0 / (1.0 + math.exp(-z)) if z > -30 else 0.0
        order = sorted(range(len(words)), key=lambda i: -per_word[i])[:top_n]
        top = tuple(
            (words[i].text, per_word[i] / norm_l2, words[i].start, words[i].end)
            for i in order if per_word[i] > 0 and len(words[i].text) > 1
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
