"""The encoder's training rows and validation sets (`python -m train.neural`, and calibration).

Each row carries a label and a weight per head; weight 0 means "this source says nothing about
that head" (a spam SMS says nothing about abuse). The same training splits and own examples as
the linear models; ETHOS (GPL-3.0) and political_social_media (licence unverified) are never
trained on.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from train import data as D
from train.corpus import clean_word_examples, district_posts, own, own_lines, weak_political
from train.templates import (
    advocacy_examples,
    civic_negatives,
    figure_examples,
    policy_examples,
    political_examples,
)
from train.templates_district import counter_speech_split, everyday_negatives, link_posts

HEADS = ("conduct", "commercial", "political")
MAX_TOKENS = 64  # training truncation; tweets and posts are shorter than this in >95% of cases
SEED = D.SEED


@dataclass
class Row:
    text: str
    y: tuple[float, float, float]
    w: tuple[float, float, float]


def rows(davidson: int = 0, counter_speech: int = 0) -> tuple[list[Row], dict[str, list[D.Example]]]:
    """Training rows for all heads, and the validation sets (never trained on).

    `davidson`: add a seeded sample of that many Davidson training tweets (conduct labels).
    `counter_speech`: add that many seeded posts that talk about harm without doing it
    (`templates_district.counter_speech_split`'s training part): conduct 0 and commercial 0; political weight 0,
    since "we stand with our families against hate" says nothing about advocacy either way
    (session 4's G gave them political 0 at weight 1, and its advocacy recall fell)."""
    val: dict[str, list[D.Example]] = {}
    out = _public_rows(val)
    out += _own_rows(val)
    out += _templated_rows(counter_speech)
    if davidson:
        dav = D.davidson_split()[0]
        random.Random(SEED).shuffle(dav)
        for r in dav[:davidson]:
            out.append(Row(r.text, (r.label, 0, 0), (0.5, 0.5, 0.0)))
    val["link_posts"] = link_posts(held_out=True, n=200)
    val["political_own"] = [D.Example(x, 1, "own") for x in own_lines("political_val.txt")]
    return out, val


def _public_rows(val: dict[str, list[D.Example]]) -> list[Row]:
    """OLID, the everyday ham and the spam halves' spam; their validation parts go to `val`."""
    out: list[Row] = []
    olid_tr, val["olid"] = D.olid_split()
    pos_pol, _ = weak_political()
    political_tweets = {r.text for r in pos_pol}
    for r in olid_tr:
        # OLID: abuse labels; topic-made political weak labels (low weight); not commercial.
        out.append(Row(r.text, (r.label, 0, int(r.text in political_tweets)), (1.0, 0.5, 0.3)))
    ham_fit, val["ham"] = D.ham_split()  # the same held-out everyday messages as the linear models
    for r in ham_fit:
        out.append(Row(r.text, (0, 0, 0), (0.5, 1.0, 1.0)))
    for which in ("sms", "youtube"):
        tr, _ = D.spam_split(which)
        val[which] = tr[::5]
        for i, r in enumerate(tr):
            if i % 5 and r.label:  # ham of these halves is already in ham_fit
                out.append(Row(r.text, (0, 1, 0), (0.0, 1.0, 1.0)))
    return out


def _own_rows(val: dict[str, list[D.Example]]) -> list[Row]:
    """Our own examples (train/examples/); the held-out casual posts go to `val`."""
    out: list[Row] = []
    for lab, _, t in own("conduct.tsv"):
        out.append(Row(t, (lab, 0, 0), (3.0, 0.0, 0.0 if lab else 1.0)))
    for lab, cat, t in own("prohibited.tsv"):
        out.append(Row(t, (0, int(cat == "commercial"), int(cat == "political")), (1.0 if not lab else 0.0, 3.0, 3.0)))
    clean = clean_word_examples() + district_posts("district_ads.txt")
    casual = own_lines("casual.txt")
    val["casual"] = [D.Example(x, 0, "own") for x in casual[1::2]]
    clean += [D.Example(x, 0, "own") for x in casual[::2]]
    for r in clean:
        out.append(Row(r.text, (0, 0, 0), (3.0, 3.0, 3.0)))
    return out


def _templated_rows(counter_speech: int) -> list[Row]:
    """Templated posts (train/templates.py): advocacy, policy, public figures, civic and everyday
    near misses, and (when asked) counter-speech."""
    out: list[Row] = []
    for ex in political_examples():
        out.append(Row(ex.text, (0, 0, ex.label), (0.0, 1.0, 3.0)))
    rng = random.Random(SEED)
    templated = advocacy_examples(2500) + policy_examples(2500)
    rng.shuffle(templated)
    # Advocacy and policy talk is not abuse (conduct 0); posts about public figures say nothing of it.
    for ex in templated[:2000]:
        out.append(Row(ex.text, (0, 0, ex.label), (1.0, 1.0, 2.0)))
    for ex in figure_examples():
        out.append(Row(ex.text, (0, 0, ex.label), (0.0, 1.0, 2.0)))
    for ex in civic_negatives() + everyday_negatives():
        out.append(Row(ex.text, (0, 0, ex.label), (1.0, 1.0, 2.0)))
    for ex in counter_speech_split(counter_speech)[0]:  # talk about harm is not abuse
        out.append(Row(ex.text, (0, 0, 0), (1.0, 1.0, 0.0)))
    return out
