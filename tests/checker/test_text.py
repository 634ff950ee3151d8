"""Text folding: disguises undone, offsets kept; the fast path equals the slow one."""

from __future__ import annotations

import random

import pytest

from checker.text import _finish, _fold_slow, fold

CASES = [
    ("Sh!t HAPPENS", "sh!t happens"),
    ("caf\u00e9 na\u00efve", "cafe naive"),
    ("f\u200bu\u200bc\u200bk", "fuck"),  # zero-width spaces dropped, letters joined
    ("\u0455hit \u0430ss", "shit ass"),  # Cyrillic look-alikes
    ("it\u2019s", "it's"),
    ("T y l e r  Q u i n l a n", "tyler quinlan"),
    ("#TylerQuinlan #Region14", "#tyler quinlan #region 14"),
    ("a   lot\tof\nspace", "a lot of space"),
    ("Plan A B", "plan a b"),  # two single letters alone are not a spelled-out word
    ("sh!t a b", "sh!t a b"),
    ("\ufb01ne", "fine"),  # a ligature expands
]


@pytest.mark.parametrize("text,want", CASES)
def test_fold(text, want):
    f = fold(text)
    assert f.text == want
    assert len(f.src) == len(f.text)
    assert f.span(0, len(f.text))[1] <= len(text)


def test_fast_path_matches_slow_path():
    rng = random.Random(3)
    alphabet = "abcXYZ 019!@$*.-_\t\n\u00e9\u0430\u200b\u2019\ufb01\U0001f389'\""
    for _ in range(3000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 40)))
        slow = _finish(text, *_fold_slow(text))
        fast = fold(text)
        assert (fast.text, fast.src) == (slow.text, slow.src), repr(text)


def test_spans_point_back_to_original_characters():
    text = "Well, \u0455h!t. T y l e r  Q u i n l a n was here \U0001f389"
    f = fold(text)
    i = f.text.index("tyler quinlan")
    a, b = f.span(i, i + len("tyler quinlan"))
    assert text[a:b] == "T y l e r  Q u i n l a n"


def test_slice_is_the_fold_of_the_original_slice():
    text = "Caf\u00e9 news. \u0455ale t\u200bonight! Buy one get one."
    f = fold(text)
    for lo, hi in [(0, 10), (11, 27), (28, len(text)), (0, len(text))]:
        assert f.slice(lo, hi).strip() == fold(text[lo:hi]).text.strip()
