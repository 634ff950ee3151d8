"""Mask student names, ids, addresses, phones, e-mails and dates of birth in text for the log."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from checker.roster import NameView
from checker.text import fold

if TYPE_CHECKING:
    from checker.policy import Policy

_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    # Starts only where a run of address characters starts: otherwise a long run without an "@"
    # is tried from each of its characters (quadratic).
    ("EMAIL", re.compile(r"(?<![\w.+-])[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b")),
    ("PHONE", re.compile(r"(?<!\w)(?:\+?1[\s.-]?)?\(?\d{3}\)?[\s.-]?\d{3}[\s.-]?\d{4}(?!\w)")),
    ("DATE", re.compile(r"\b\d{1,2}[/-]\d{1,2}[/-]\d{2,4}\b|\b(?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\.? \d{1,2}(?:st|nd|rd|th)?,? \d{4}\b", re.I)),
    ("ADDRESS", re.compile(r"\b\d{1,6}\s+(?:[A-Z][a-z]+\s+){1,3}(?:street|st|road|rd|avenue|ave|lane|ln|drive|dr|court|ct|way|boulevard|blvd|circle|cir|place|pl|hill|turnpike|tpke)\b\.?", re.I)),
    ("STUDENT_ID", re.compile(r"\b[A-Z]{0,2}\d{5,9}\b")),
)


# Words spelled out letter by letter, as written: "T Y L E R Q U I N L A N", "t.y.l.e.r-q.u.i.n.l.a.n".
_SPELLED = re.compile(r"(?<![\w])[^\W\d_](?:[ .\-_*~]{1,2}[^\W\d_]){5,}(?![\w])")


def _spelled_names(text: str, policy: Policy) -> list[tuple[int, int, str]]:
    """Roster names spelled out with no break between the first and the last name (all capitals
    or all small letters, where `fold` cannot see where one word ends): each split is tried."""
    out = []
    roster = policy.data.roster
    for m in _SPELLED.finditer(text):
        letters = "".join(c for c in m.group() if c.isalpha())
        if len(letters) > 60 or roster.find_names(NameView(fold(letters))):
            continue
        for k in range(2, len(letters) - 1):
            cand = f"{letters[:k]} {letters[k:]}"
            if any(h.start == 0 and h.end == len(cand) for h in roster.find_names(NameView(fold(cand)))):
                out.append((m.start(), m.end(), "STUDENT"))
                break
    return out


def redact(text: str, policy: Policy) -> str:
    """The text with roster names and personal details replaced by [STUDENT], [PHONE]..."""
    if not text:
        return text
    spans: list[tuple[int, int, str]] = []
    for hit in policy.data.roster.find_names(NameView(fold(text))):
        spans.append((hit.start, hit.end, "STUDENT"))
    if _SPELLED.search(text):
        spans += _spelled_names(text, policy)
    for label, pat in _PATTERNS:
        for m in pat.finditer(text):
            spans.append((m.start(), m.end(), label))
    if not spans:
        return text
    spans.sort(key=lambda s: (s[0], -(s[1] - s[0])))
    out, pos = [], 0
    for a, b, label in spans:
        if a < pos:
            continue
        out.append(text[pos:a])
        out.append(f"[{label}]")
        pos = b
    out.append(text[pos:])
    return "".join(out)
