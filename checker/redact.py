"""Mask student names, ids, addresses, phones, e-mails and dates of birth in text for the log."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from checker.roster import NameView
from checker.text import fold

if TYPE_CHECKING:
    from checker.policy import Policy

_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("EMAIL", re.compile(r"\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b")),
    ("PHONE", re.compile(r"(?<!\w)(?:\+?1[\s.-]?)?\(?\d{3}\)?[\s.-]?\d{3}[\s.-]?\d{4}(?!\w)")),
    ("DATE", re.compile(r"\b\d{1,2}[/-]\d{1,2}[/-]\d{2,4}\b|\b(?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\.? \d{1,2}(?:st|nd|rd|th)?,? \d{4}\b", re.I)),
    ("ADDRESS", re.compile(r"\b\d{1,6}\s+(?:[A-Z][a-z]+\s+){1,3}(?:street|st|road|rd|avenue|ave|lane|ln|drive|dr|court|ct|way|boulevard|blvd|circle|cir|place|pl|hill|turnpike|tpke)\b\.?", re.I)),
    ("STUDENT_ID", re.compile(r"\b[A-Z]{0,2}\d{5,9}\b")),
)


def redact(text: str, policy: Policy) -> str:
    """The text with roster names and personal details replaced by [STUDENT], [PHONE]..."""
    if not text:
        return text
    spans: list[tuple[int, int, str]] = []
    for hit in policy.data.roster.find_names(NameView(fold(text))):
        spans.append((hit.start, hit.end, "STUDENT"))
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
