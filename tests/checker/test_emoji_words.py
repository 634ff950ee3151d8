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


def test_the_model_flag_changes_what_the_encoder_reads():
    meta = json.loads((MODELS_DIR / "neural.json").read_text(encoding="utf-8"))
    plain = Encoder(MODELS_DIR / "neural.onnx", {**meta, "emoji_words": False}, MODELS_DIR / "neural-tokenizer.json")
    words = Encoder(MODELS_DIR / "neural.onnx", {**meta, "emoji_words": True}, MODELS_DIR / "neural-tokenizer.json")
    assert (plain.emoji, words.emoji) == (False, True)
    # an emoji is [UNK] to the plain reader and a word to the other; a text without one reads alike
    assert plain.raw_probs(["you are a 🐀"]) != words.raw_probs(["you are a 🐀"])
    assert plain.raw_probs(["you are a rat"]) == words.raw_probs(["you are a rat"])
