"""Fit a TF-IDF + logistic-regression model on `checker.textmodel` features and export it."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction.text import CountVectorizer
from sklearn.linear_model import LogisticRegression

from checker.textmodel import analyzer
from train.data import SEED, Example

_CACHE: dict[str, list[str]] = {}


def feats(text: str) -> list[str]:
    """Analyzer output, cached (texts repeat across experiments)."""
    f = _CACHE.get(text)
    if f is None:
        f = _CACHE[text] = analyzer(text)
    return f


class Fitted:
    """A fitted vectorizer + classifier; `prob` for evaluation, `export` for the checker.

    Features follow `checker.textmodel.TextModel`: raw counts times smoothed idf, each row
    divided by sqrt(sum of count * idf^2), so that inference can cache per-word sums.
    """

    def __init__(self, rows: list[Example], c: float = 4.0, min_df: int = 2, weights: dict[str, float] | None = None,
                 max_features: int = 150_000, class_weight: str | None = "balanced", nb: bool = False) -> None:
        self.vec = CountVectorizer(analyzer=feats, min_df=min_df, max_features=max_features, dtype=np.float64)
        counts = self.vec.fit_transform([r.text for r in rows])
        n = counts.shape[0]
        df = np.bincount(counts.indices, minlength=counts.shape[1])
        self.idf = np.log((1 + n) / (1 + df)) + 1.0  # scikit-learn's smoothed idf
        y = np.array([r.label for r in rows])
        # Optional NB-LR (Wang & Manning 2012): scale features by their log-count ratio.
        self.r = np.ones(counts.shape[1])
        if nb:
            pres = (counts > 0).astype(np.float64)
            pos = np.asarray(pres[y == 1].sum(axis=0)).ravel() + 1.0
            neg = np.asarray(pres[y == 0].sum(axis=0)).ravel() + 1.0
            self.r = np.log((pos / pos.sum()) / (neg / neg.sum()))
        x = self._scale(counts)
        sw = np.array([(weights or {}).get(r.source, 1.0) for r in rows])
        self.clf = LogisticRegression(C=c, max_iter=3000, class_weight=class_weight, random_state=SEED)
        self.clf.fit(x, y, sample_weight=sw)

    def _scale(self, counts: sp.csr_matrix) -> sp.csr_matrix:
        q = counts @ (self.idf ** 2)
        inv = 1.0 / np.sqrt(np.where(q > 0, q, 1.0))
        return sp.diags(inv) @ counts @ sp.diags(self.idf * self.r)

    def prob(self, texts: list[str]) -> np.ndarray:
        """Positive-class probabilities."""
        return self.clf.predict_proba(self._scale(self.vec.transform(texts)))[:, 1]

    def export(self, path: Path, meta: dict) -> None:
        """Write the n-gram table (`coef * idf`, `idf`) and metadata as a compressed .npz."""
        vocab = self.vec.vocabulary_
        grams = sorted(vocab, key=vocab.get)
        idx = np.array([vocab[g] for g in grams])
        idf = self.idf[idx]
        coef = self.clf.coef_[0][idx] * self.r[idx]
        meta = {**meta, "intercept": float(self.clf.intercept_[0]), "n_grams": len(grams)}
        path.parent.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(path, grams=np.array(grams), wi=(coef * idf).astype(np.float32),
                            idf=idf.astype(np.float32), meta=np.array(json.dumps(meta)))
