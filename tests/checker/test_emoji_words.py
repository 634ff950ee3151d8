"""Emoji read as words by an encoder trained so (checker.neural.emoji_words, docs/models.md)."""

import json

from checker.neural import Encoder, emoji_words, encoder_input
from checker.textmodel import MODELS_DIR


def test_emoji_become_their_words_once_per_run():
    assert emoji_words("you 🐀🐀🐀").split() == ["you", "rat"]
    assert emoji_words("🔫 tomorrow at the meeting").split() == ["pistol", "tomorrow", "at", "the", "meeting"]
    assert emoji_words("great job 👏🏽❤️").split() == ["great", "job", "clapping", "hands", "heart"]
    assert emoji_words("🤡").split() == ["clown", "face"]


def test_text_without_emoji_is_unchanged():
    for t in ("plain words, no emoji", "ñandú café — “quoted” ¿sí?", "math ≥ 3 × 4", ""):
        assert emoji_words(t) == t


def test_encoder_input_applies_emoji_words_only_when_asked():
    t = "@coach 🔥 https://example.org/x"
    assert encoder_input(t) == "@USER 🔥 URL"
    assert encoder_input(t, True).split() == ["@USER", "fire", "URL"]


def test_a_model_says_whether_it_reads_emoji_as_words(tmp_path):
    for name in ("neural", "judgment", "joint"):
        meta_path = MODELS_DIR / f"{name}.json"
        if not meta_path.is_file():
            continue
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        enc = Encoder(MODELS_DIR / f"{name}.onnx", meta, MODELS_DIR / f"{name}-tokenizer.json")
        assert enc.emoji is bool(meta.get("emoji_words", False))
        assert enc.view("").emoji is enc.emoji
