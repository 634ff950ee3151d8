"""The greedy model soup of `python -m train.neural soup` (selection logic; no torch needed)."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parents[2]))

from train.neural import greedy_soup


def _scorer(table: dict[frozenset[str], float]):
    calls = []

    def score(names: list[str]) -> tuple[float, dict]:
        calls.append(list(names))
        v = table[frozenset(names)]
        return v, {"mean": v}

    return score, calls


def test_runs_are_tried_best_first_and_kept_only_when_the_average_improves():
    score, calls = _scorer({
        frozenset({"a"}): 0.70, frozenset({"b"}): 0.75, frozenset({"c"}): 0.72,
        frozenset({"b", "c"}): 0.77,        # b + c beats b alone: kept
        frozenset({"b", "c", "a"}): 0.76,   # adding a makes it worse: dropped
    })
    kept, best, figures = greedy_soup(["a", "b", "c"], score)
    assert kept == ["b", "c"] and best == 0.77 and figures == {"mean": 0.77}
    # each run alone, then the best (b) with c (next best), then with a
    assert calls[3:] == [["b", "c"], ["b", "c", "a"]]


def test_a_soup_that_never_beats_the_best_single_run_is_that_run():
    score, _ = _scorer({frozenset({"a"}): 0.70, frozenset({"b"}): 0.75, frozenset({"a", "b"}): 0.75})
    assert greedy_soup(["a", "b"], score)[0] == ["b"]  # a tie is not an improvement
