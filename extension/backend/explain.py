"""Findings in plain words for the warning panel: what was seen, why it matters, what to do.

Each finding carries `spans`: every place in the text the browser sent that it is about, so
the panel highlights them all at once (offsets in code points, as Python indexes a str):
its own span, the same words again elsewhere in the post, the words a text model named as
its evidence, and, for an insult or harassment, the other insult words of its sentence (the
checker reports the phrase that fired; "You are an idiot, a moron and a loser" is one
finding with three highlights, not three rounds of editing).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import cache
from typing import Any

from checker import Policy, Verdict
from checker.rules._match import Lexicon
from checker.text import fold, sentences, words

# Plain words for the built-in rules, written to a colleague, not a suspect. `{what}` is the matched
# text. A rule of the loaded policy with no sentence here (a district's own) is explained by its
# message in the policy's rules.toml.
_PLAIN: dict[str, str] = {
    "conduct": "The words “{what}” could read as harassing, offensive or threatening.",
    "student-privacy": "This shares confidential information about a student (“{what}”).",
    "directory-opt-out": "This names a student whose family asked the district not to share their information (“{what}”).",
    "prohibited-purpose": "District-sponsored pages cannot be used for campaigning, selling, fundraising for private gain or religious messages (“{what}”).",
    "misrepresentation": "This reads as a personal opinion posted on a district page, where it would look like the district's view (“{what}”).",
    "personal-link": "District-sponsored pages must not link to a personal page or profile ({what}).",
    "district-link": "Personal accounts should not link to district or school sites ({what}).",
    "missing-disclaimer": "Your post mentions {what}, so Board policy asks you to say the views are your own.",
    "district-logo": "An image looks like a district logo ({what}); personal posts may not use district logos.",
    "student-connection": "This would connect your personal account with a student, a parent or a young alumnus.",
    "unapproved-site": "This page or group is not in the district's list of approved sites ({what}).",
}


# A text model's finding names its evidence in its reason (checker.rules._match.drivers_text).
_DRIVERS = re.compile(r"words that drove it: (.+)$")
_QUOTED = re.compile(r"'([^']+)'")
# Insult words (nouns and adjectives) are highlighted, never reported, next to a conduct
# finding of these kinds.
_INSULT_KINDS = ("insult", "harassment")
MAX_SPANS = 50  # per finding
MAX_REPEAT_CHARS = 200  # a longer excerpt (a whole post) is not looked for again


def _what(f: dict[str, Any]) -> str:
    return f.get("excerpt") or f.get("link") or f.get("image") or "this"


def _explanation(f: dict[str, Any], messages: dict[str, str], pieces: list[str]) -> str:
    template = _PLAIN.get(f["rule"])
    if template is None:
        return messages.get(f["rule"]) or f"{_what(f)} may break the Board policy."
    if len(pieces) > 1 and "“{what}”" in template:  # “a”, “b” and “c”
        return template.format(what="”, “".join(pieces[:-1]) + "” and “" + pieces[-1])
    return template.format(what=_what(f))


def _anchor(text: str, piece: str, near: int) -> list[int] | None:
    """[start, end] of `piece` in `text`, the occurrence nearest `near` (None: not there)."""
    if text[near:near + len(piece)] == piece:
        return [near, near + len(piece)]
    starts = [m.start() for m in re.finditer(re.escape(piece), text)]
    if not starts:
        return None
    at = min(starts, key=lambda s: abs(s - near))
    return [at, at + len(piece)]


def _occurrences(text: str, piece: str) -> list[list[int]]:
    """Every whole-word, case-blind occurrence of `piece` in `text`."""
    if not piece.strip() or len(piece) > MAX_REPEAT_CHARS:
        return []
    pat = re.compile(r"(?<!\w)" + re.escape(piece) + r"(?!\w)", re.IGNORECASE)
    return [[m.start(), m.end()] for m in pat.finditer(text)]


@cache
def _lexicon(base_words: tuple[str, ...]) -> Lexicon:
    return Lexicon(base_words)  # built once per word list (inflections, lookup cache)


def _insults(policy: Policy) -> Lexicon | None:
    """The conduct rule's insult nouns and adjectives ("idiot", "pathetic") as one lexicon."""
    rule = next((r for r in policy.rules if r.id == "conduct"), None)
    if rule is None:
        return None
    lists = (policy.data.lexicons.get(rule.params.get(key) or "", ()) for key in ("insult_lexicon", "insult_adjective_lexicon"))
    base_words = tuple(w for words_ in lists for w in words_)
    return _lexicon(base_words) if base_words else None


def _insult_words(text: str, policy: Policy) -> list[list[int]]:
    """Spans of the insult words in `text` (disguised spellings too), on `text`'s offsets."""
    lexicon = _insults(policy)
    if lexicon is None:
        return []
    folded = fold(text)
    return [list(folded.span(h.start, h.end)) for h in lexicon.find(words(folded.text), folded.text)]


def _own(f: dict[str, Any], text: str) -> list[int] | None:
    """The finding's own span, re-anchored on `text`: the checker cleans the text before
    matching, and the highlight must land on the characters the browser sent."""
    span, excerpt = f.get("span"), f.get("excerpt")
    if span and excerpt:
        return _anchor(text, excerpt, span[0])
    return list(span) if span else None


def _spans(f: dict[str, Any], own: list[int] | None, text: str, insults: Callable[[], list[list[int]]],
           taken: list[list[int]]) -> list[list[int]]:
    """Every place in `text` that finding `f` is about, in text order, none overlapping; the
    insult words it adds are those no other finding's own span covers (`taken`)."""
    found = [own] if own else []
    if own and f.get("excerpt"):
        found += _occurrences(text, f["excerpt"])
    drivers = _DRIVERS.search(f.get("reason", ""))
    for word in _QUOTED.findall(drivers.group(1)) if drivers else ():
        found += _occurrences(text, word)
    if own and f["rule"] == "conduct" and f.get("category") in _INSULT_KINDS:
        # in the sentences of the finding's own span, where no other finding already is
        near = [(a, b) for a, b in sentences(text) if a < own[1] and own[0] < b] or [(own[0], own[1])]
        found += [w for w in insults()
                  if any(a <= w[0] and w[1] <= b for a, b in near)
                  and not any(a < w[1] and w[0] < b for a, b in taken if [a, b] != own)]
    out: list[list[int]] = []
    for a, b in sorted(found):
        if out and a < out[-1][1]:
            out[-1][1] = max(out[-1][1], b)  # overlapping: one highlight
        else:
            out.append([a, b])
    return out[:MAX_SPANS]


def explain(verdict: Verdict, policy: Policy, text: str) -> dict[str, Any]:
    """The verdict as JSON for the extension, each finding with plain words, its clause text,
    its own `span` and all its `spans` on `text`; `highlights`: every span of every finding."""
    out = verdict.to_dict()
    clauses = policy.data.clauses
    messages = {rule.id: rule.config.message for rule in policy.rules}  # what each of its rules says
    insults = cache(lambda: _insult_words(text, policy))  # looked for once, and only if needed
    owns = [_own(f, text) for f in out["findings"]]
    taken = [s for s in owns if s]
    for f, own in zip(out["findings"], owns, strict=True):
        spans = _spans(f, own, text, insults, taken)
        f["span"], f["spans"] = own, spans
        pieces = list({text[a:b].casefold(): text[a:b] for a, b in spans}.values())  # each once
        f["explanation"] = _explanation(f, messages, pieces)
        f["clause_text"] = clauses.get(f["clause"], "")
        f["overridable"] = f["action"] != "block"
    out["highlights"] = sorted({(a, b) for f in out["findings"] for a, b in f["spans"]})
    out["highlights"] = [list(h) for h in out["highlights"]]
    return out
