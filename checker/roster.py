"""Roster matching with one Aho-Corasick automaton: cost per post does not grow with the roster.

Names are matched in a "name view" of the folded text (letters-only words joined by single
spaces, possessive 's dropped), so "Mason Brandt's", "BRANDT, Mason" and "mason   brandt" all
match. Nothing here ever prints a name: reprs are opaque.
"""

from __future__ import annotations

import bisect
import csv
import io
import re
from dataclasses import dataclass

import ahocorasick

from checker.errors import field_error as _err
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
    # "full" (first+last in either order, or the preferred name), "initial" ("Mason B."),
    # "initial-surname" ("M. Brandt"), "surname" (a surname unique on the roster, capitalised)
    # or "misspelled" (first + last with one edit in a name of 5+ letters: "Mason Brant")
    form: str


# Words before a surname that make it an adult's ("Mr. Brandt", "Coach Brandt").
_TITLES = frozenset("mr mrs ms miss mx dr coach principal officer nurse dean superintendent professor "
                    "sra sr srta profe maestra maestro senor senora".split())

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
        self.starts = self._keys  # name-view offset of each word

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
        # One-deletion neighbourhoods of first and last names of 5+ letters, for misspellings.
        self._near: dict[str, set[tuple[str, str, int]]] = {}
        self._longest = 0  # the longest name in _near: a word past it + 1 is no one's misspelling
        self._lasts: dict[str, set[int]] | None = None
        self.first_names: dict[str, list[int]] = {}
        self._auto = ahocorasick.Automaton()
        keys: dict[str, tuple[set[int], str]] = {}

        def add(key: str, idx: int, form: str) -> None:
            if not key or " " not in key:
                return
            ent = keys.setdefault(key, (set(), form))
            ent[0].add(idx)

        lasts: dict[str, list[int]] = {}
        for i, s in enumerate(students):
            firsts = {_norm(s.first)} | ({_norm(s.preferred)} if s.preferred else set())
            last = _norm(s.last)
            for f in firsts:
                add(f"{f} {last}", i, "full")
                add(f"{last} {f}", i, "full")
                add(f"{f} {last[0]}", i, "initial")
                if f:
                    add(f"{f[0]} {last}", i, "initial-surname")
                self.first_names.setdefault(f, []).append(i)
                if " " not in f:
                    self._fuzzy_add(f, i, "first")
            if " " not in last:
                lasts.setdefault(last, []).append(i)
                self._fuzzy_add(last, i, "last")
            if s.student_id:
                self.ids[s.student_id.upper()] = i
        # A surname alone names a student only when one student has it (and it is capitalised).
        self.unique_surnames = {k: v[0] for k, v in lasts.items() if len(v) == 1 and len(k) >= 4}
        for key, (idxs, form) in keys.items():
            self._auto.add_word(key, (len(key), tuple(sorted(idxs)), form))
        if keys:
            self._auto.make_automaton()
        self._empty = not keys

    def _fuzzy_add(self, name: str, idx: int, part: str) -> None:
        if len(name) < 5:
            return
        self._longest = max(self._longest, len(name))
        for v in {name, *(name[:k] + name[k + 1:] for k in range(len(name)))}:
            self._near.setdefault(v, set()).add((name, part, idx))

    def _near_names(self, word: str, part: str) -> set[int]:
        """Students whose first or last name (`part`) is one edit from `word` (not equal to it)."""
        if len(word) < 4 or not self._near or len(word) > self._longest + 1:
            return set()  # (a very long word would build len(word) deletions of len(word) chars)
        cands: set[tuple[str, str, int]] = set()
        for v in {word, *(word[:k] + word[k + 1:] for k in range(len(word)))}:
            cands |= self._near.get(v, set())
        return {i for name, p, i in cands if p == part and name != word and _one_edit(word, name)}

    def __repr__(self) -> str:
        return f"<Roster of {len(self.students)} students>"

    def __len__(self) -> int:
        return len(self.students)

    def _word_hits(self, view: NameView) -> list[NameHit]:
        """Surnames alone (unique on the roster, capitalised, no title before them) and
        first + last with one misspelt name."""
        words = view.text.split(" ") if view.text else []
        starts = view.starts
        orig = view.folded.original
        out: list[NameHit] = []
        for k, w in enumerate(words):
            prev = words[k - 1] if k else ""
            if w in self.unique_surnames and prev not in _TITLES:
                a, b = view.to_original(starts[k], starts[k] + len(w))
                if orig[a:a + 1].isupper():
                    out.append(NameHit(a, b, (self.unique_surnames[w],), "surname"))
            if k + 1 < len(words):
                nxt = words[k + 1]
                firsts, fuzzy_f = set(self.first_names.get(w, ())), self._near_names(w, "first")
                lasts, fuzzy_l = self._last_index().get(nxt, set()), self._near_names(nxt, "last")
                idxs = (firsts & fuzzy_l) | (fuzzy_f & lasts)
                if idxs:
                    a, b = view.to_original(starts[k], starts[k + 1] + len(nxt))
                    if orig[a:a + 1].isupper():
                        out.append(NameHit(a, b, tuple(sorted(idxs)), "misspelled"))
        return out

    def _last_index(self) -> dict[str, set[int]]:
        if self._lasts is None:
            self._lasts = {}
            for i, s in enumerate(self.students):
                self._lasts.setdefault(_norm(s.last), set()).add(i)
        return self._lasts

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
            orig = view.folded.original
            if form == "initial":
                # "Mason B." or "Mason B" only: the initial must be a word on its own.
                if b < len(orig) and orig[b:b + 1].isalpha():
                    continue
            elif form == "initial-surname" and not (orig[a:a + 1].isupper() and orig[a + 1:a + 2] in (".", " ")):
                continue  # "M. Brandt", "M Brandt"; never "a Brandt" or "mbrandt"
            hits.append(NameHit(a, b, idxs, form))
        hits += self._word_hits(view)
        # Drop hits inside longer ones (the initial form or a surname inside a full name).
        hits.sort(key=lambda h: (h.start, -(h.end - h.start)))
        out: list[NameHit] = []
        for h in hits:
            if out and h.start < out[-1].end:
                continue
            out.append(h)
        return out


def _one_edit(a: str, b: str) -> bool:
    """True when a and b differ by one insertion, deletion, substitution or swap of neighbours."""
    if abs(len(a) - len(b)) > 1 or a == b:
        return False
    if len(a) == len(b):
        diff = [k for k in range(len(a)) if a[k] != b[k]]
        return len(diff) == 1 or (len(diff) == 2 and diff[1] == diff[0] + 1
                                  and a[diff[0]] == b[diff[1]] and a[diff[1]] == b[diff[0]])
    short, long_ = (a, b) if len(a) < len(b) else (b, a)
    return any(long_[:k] + long_[k + 1:] == short for k in range(len(long_)))


def parse_roster(raw: bytes) -> Roster:
    """students.csv: the roster, validated; errors name the line, never a student."""
    f = "students.csv"
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise _err(f, "-", f"not UTF-8 text at byte {e.start}") from None
    reader = csv.DictReader(io.StringIO(text))
    need = {"first_name", "last_name", "directory_opt_out"}
    have = set(reader.fieldnames or [])
    if not need <= have:
        raise _err(f, "header", f"missing column(s) {', '.join(sorted(need - have))}")
    students = []
    for n, row in enumerate(reader, start=2):
        first, last = (row.get("first_name") or "").strip(), (row.get("last_name") or "").strip()
        opt = (row.get("directory_opt_out") or "").strip().lower()
        if not first or not last:
            # Row numbers only: the roster never appears in an error.
            raise _err(f, f"line {n}", "first_name and last_name must not be empty")
        if opt not in ("yes", "no", "y", "n", "true", "false", "1", "0"):
            raise _err(f, f"line {n}.directory_opt_out", "must be yes or no")
        students.append(Student(
            first=first, last=last,
            opt_out=opt in ("yes", "y", "true", "1"),
            student_id=(row.get("student_id") or "").strip() or None,
            preferred=(row.get("preferred_name") or "").strip() or None,
        ))
    return Roster(students)
