"""train.joint: the joint rows keep each data set's labels to its own heads."""

import argparse

import numpy as np
import pytest

from train.data import DATA
from train.joint import joint_rows
from train.neural_data import HEADS


@pytest.mark.skipif(not (DATA / "olid").is_dir(), reason=f"public datasets not at {DATA} (POSTGUARD_DATASETS)")
def test_joint_rows_weights_are_disjoint_and_heads_unique() -> None:
    args = argparse.Namespace(davidson=0, counter_speech=0, limit=300, pos_cap=20.0, pos_power=0.75,
                              judgment_weight=0.15, judgment_repeats=2, emoji_words=True)
    heads, texts, y, w = joint_rows(args)
    assert len(heads) == len(set(heads))
    assert heads[: len(HEADS)] == [f"neural:{h}" for h in HEADS]
    n = len(HEADS)
    neural = w[:, :n].sum(1) > 0
    judged = w[:, n:].sum(1) > 0
    assert not (neural & judged).any()  # no row carries labels for both sets
    assert judged.sum() == 2 * 30  # the judgment rows, repeated
    assert len(texts) == len(y) == len(w)
    assert np.all((y == 0) | (y == 1))
    assert np.all(y[w == 0] == 0)
    # the encoder reads what the checker gives a model trained with emoji as words
    assert not any(ch in t for t in texts for ch in "\U0001F525\U0001F602\u2764")
