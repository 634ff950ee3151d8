"""Per-post analysis shared by the rules, computed once and only when a rule asks for it."""

from __future__ import annotations

from functools import cached_property

from checker.district import SponsoredSite
from checker.links import Link, find_urls
from checker.model import Account, Post
from checker.policy_data import PolicyData
from checker.roster import NameHit, NameView
from checker.text import Folded, Token, deleet_text, fold, sentences, words


class Context:
    """The post, its account kind and lazily computed views of its text."""

    def __init__(self, post: Post, data: PolicyData, account: Account, site: SponsoredSite | None,
                 text: str) -> None:
        self.post = post
        self.data = data
        self.account = account
        self.sponsored_site = site
        self.text = text

    @cached_property
    def folded(self) -> Folded:
        """The folded text with its offset map."""
        return fold(self.text)

    @cached_property
    def deleeted(self) -> str:
        """The folded text with leetspeak read as letters (same offsets as `folded`)."""
        return deleet_text(self.folded.text)

    @cached_property
    def tokens(self) -> list[Token]:
        """Word tokens of the folded text."""
        return words(self.folded.text)

    @cached_property
    def name_view(self) -> NameView:
        """Letters-only view for roster matching."""
        return NameView(self.folded)

    @cached_property
    def names(self) -> list[NameHit]:
        """Roster names mentioned in the text."""
        return self.data.roster.find_names(self.name_view)

    @cached_property
    def sentences(self) -> list[tuple[int, int]]:
        """Sentence spans of the original text."""
        return sentences(self.text)

    @cached_property
    def links(self) -> list[Link]:
        """Links written in the text and attached to the post, classified."""
        clf = self.data.links
        seen: set[str] = set()
        out: list[Link] = []
        for span, url in find_urls(self.text):
            seen.add(url.rstrip("/").lower())
            out.append(clf.classify(url, span))
        for url in self.post.links:
            if url.rstrip("/").lower() not in seen:
                out.append(clf.classify(url, None))
        return out

    def sentence_window(self, start: int, end: int, extra: int = 1) -> tuple[int, int]:
        """Span of the sentence holding [start, end) plus `extra` sentences after it."""
        sents = self.sentences or [(0, len(self.text))]
        for i, (a, b) in enumerate(sents):
            if a <= start < b or (start >= b and (i + 1 == len(sents) or start < sents[i + 1][0])):
                j = min(i + extra, len(sents) - 1)
                return (a, max(b, sents[j][1], end))
        return (0, len(self.text))
