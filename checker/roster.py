"""Roster matching with one Aho-Corasick automaton: cost per post does not grow with the roster.

Names are matched in a "name view" of the folded text (letters-only words joined by single
spaces, possessive 's dropped), so "Mason Brandt's", "BRANDT, Mason" and "mason   brandt" all
match. Nothing here ever prints a name: reprs are opaque.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass

import ahocorasick

from checker.text import Folded


@dataclass(frozen=True, repr=False)
class Student:
    """One roster row (kept in memory only; never logged)."""

    first: str
    last: str
    opt_out: bool
    student_id: str | None = None
    preferred: str | None = None

    def __repr__(self) -> str:
        return "<Student>"


@dataclass(frozen=True)
class NameHit:
    """A roster name found in the text: original span, which students, and the form matched."""

    start: int
    end: int
    students: tuple[int, ...]
    form: str  # "full" (first+last in either order) or "initial" ("Mason B.")


_NAME_WORD = re.compile(r"[a-z]+(?:[-'][a-z]+)*")


_REPEATS = re.compile(r"(.)\1+")


_SQUASHED: dict[str, str] = {}


def _squash(word: str) -> str:
    # Both roster keys and text lose doubled letters, so "MASONNN" meets "Mason" and
    # "Anna" still meets "Anna"; the rare merge ("Masson"/"Mason") errs on the safe side.
    out = _SQUASHED.get(word)
    if out is None:
        out = _REPEATS.sub(r"\1", word)
        if len(_SQUASHED) < 100_000:  # words repeat across posts; bounded memory
            _SQUASHED[word] = out
    return out


def _norm(name: str) -> str:
    return " ".join(_squash(w) for w in _NAME_WORD.findall(name.lower().replace("'s ", " ")))


class NameView:
    """Letters-only words of folded text joined by spaces, mapped back to folded offsets."""

    def __init__(self, folded: Folded) -> None:
        self.folded = folded
        parts: list[str] = []
        pos = 0
        offs: list[tuple[int, int, int]] = []
        for m in _NAME_WORD.finditer(folded.text):
            w = m.group()
            end = m.end()
            if w.endswith("'s"):
                w, end = w[:-2], end - 2
            elif w.endswith("'"):
                w, end = w[:-1], end - 1
            w = _squash(w)
            parts.append(w)
            offs.append((pos, m.start(), end))
            pos += len(w) + 1
        self.text = " ".join(parts)
        self._offs = offs
        self._keys = [o[0] for o in offs]

    def to_original(self, a: int, b: int) -> tuple[int, int]:
        """Original-text span of name-view chars [a, b) (a and b on word boundaries)."""
        i = bisect.bisect_right(self._keys, a) - 1
        j = bisect.bisect_right(self._keys, b - 1) - 1
        fa = self._offs[i][1]
        fb = self._offs[j][2]
        return self.folded.span(fa, fb)

    def word_index(self, a: int) -> int:
        """Index of the word starting at name-view offset `a`."""
        return bisect.bisect_right(self._keys, a) - 1


class Roster:
    """The students of a policy, with one automaton for full names and one map of ids."""

    def __init__(self, students: list[Student]) -> None:
        self.students = students
        self.ids: dict[str, int] = {}
        self.first_names: dict[str, list[int]] = {}
        self._auto = ahocorasick.Automaton()
        keys: dict[str, tuple[set[int], str]] = {}

        def add(key: str, idx: int, form: str) -> None:
            if not key or " " not in key:
                return
            ent = keys.setdefault(key, (set(), form))
            ent[0].add(idx)

        for i, s in enumerate(students):
            firsts = {_norm(s.first)} | ({_norm(s.preferred)} if s.preferred else set())
            last = _norm(s.last)
            for f in firsts:
                add(f"{f} {last}", i, "full")
                add(f"{last} {f}", i, "full")
                add(f"{f} {last[0]}", i, "initial")
                self.first_names.setdefault(f, []).append(i)
            if s.student_id:
                self.ids[s.student_id.upper()] = i
        for key, (idxs, form) in keys.items():
            self._auto.add_word(key, (len(key), tuple(sorted(idxs)), form))
        if keys:
            self._auto.make_automaton()
        self._empty = not keys

    def __repr__(self) -> str:
        return f"<Roster of {len(self.students)} students>"

    def __len__(self) -> int:
        return len(self.students)

    def find_names(self, view: NameView) -> list[NameHit]:
        """Every full-name (or first name + last initial) mention, longest first at each place."""
        if self._empty or not view.text:
            return []
        t = view.text
        n = len(t)
        hits: list[NameHit] = []
        for end, (klen, idxs, form) in self._auto.iter(t):
            start = end - klen + 1
            if (start > 0 and t[start - 1] != " ") or (end + 1 < n and t[end + 1] != " "):
                continue
            a, b = view.to_original(start, end + 1)
            if form == "initial":
                # "Mason B." or "Mason B" only: the initial must be a word on its own.
                orig = view.folded.original
                if b < len(orig) and orig[b:b + 1].isalpha():
                    continue
            hits.append(NameHit(a, b, idxs, form))
        # Drop hits inside longer ones (the initial form inside a full name).
        hits.sort(key=lambda h: (h.start, -(h.end - h.start)))
        out: list[NameHit] = []
        for h in hits:
            if out and h.start < out[-1].end:
                continue
            out.append(h)
        return out
