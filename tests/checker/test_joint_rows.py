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


@pytest.mark.skipif(not (DATA / "olid").is_dir(), reason=f"public datasets not at {DATA} (POSTGUARD_DATASETS)")
def test_counter_speech_rows_are_clean_for_every_judgment_head() -> None:
    from train.judgment import encoder_text
    from train.templates_district import counter_speech_split

    args = argparse.Namespace(davidson=0, counter_speech=20, limit=300, pos_cap=20.0, pos_power=0.75,
                              judgment_weight=0.15, judgment_repeats=2, emoji_words=True)
    heads, texts, y, w = joint_rows(args)
    n = len(HEADS)
    judged = w[:, n:].sum(1) > 0
    assert judged.sum() == 2 * (30 + 20)
    counter = {encoder_text(e.text, True) for e in counter_speech_split(20)[0]}
    rows = [i for i, t in enumerate(texts) if judged[i] and t in counter]
    assert len(rows) == 2 * 20
    conduct = heads.index("conduct")
    assert all(y[i, n:].sum() == 0 and w[i, conduct] > 0 for i in rows)


def test_a_teachers_probabilities_blend_into_the_targets_only_where_a_row_has_weight(tmp_path) -> None:
    from train.joint import blend_soft, text_key

    heads = ["neural:conduct", "conduct", "conduct/threat"]
    texts = ["you will regret it", "lovely game", "not in the teacher's file"]
    y = np.array([[1, 1, 1], [0, 0, 0], [1, 0, 0]], dtype=np.float32)
    w = np.array([[1, 0, 1], [0, 1, 1], [1, 1, 1]], dtype=np.float32)
    path = tmp_path / "soft.npz"
    np.savez(path, keys=np.array([np.frombuffer(text_key(t), dtype=np.uint8) for t in texts[:2]]),
             probs=np.array([[0.2, 0.9, 0.6], [0.4, 0.1, 0.3]], dtype=np.float16), heads=np.array(heads))
    out, found = blend_soft(texts, heads, y, w, path, 0.5)
    assert found == 2
    np.testing.assert_allclose(out[0], [0.6, 1.0, 0.8], atol=1e-3)  # weight 0 on "conduct": the label stays
    np.testing.assert_allclose(out[1], [0.0, 0.05, 0.15], atol=1e-3)
    np.testing.assert_array_equal(out[2], y[2])  # no teacher's probability: the label
    with pytest.raises(SystemExit):
        blend_soft(texts, heads[:2], y[:, :2], w[:, :2], path, 0.5)
