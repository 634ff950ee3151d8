"""Loaders for the public datasets in ../shared/datasets and the fixed splits every script uses.

Splits are deterministic (seed 14, stratified) so training (`python -m train`) and measuring
(`bench/quality`) always agree on which rows are held out. Test rows never reach training.
"""

from __future__ import annotations

import csv
import io
import os
import random
from dataclasses import dataclass
from pathlib import Path

SEED = 14
DATA = Path(os.environ.get("POSTGUARD_DATASETS", Path(__file__).resolve().parents[2] / "shared" / "datasets"))


@dataclass(frozen=True)
class Example:
    """One labeled text; `label` is 1 for the positive class (offensive, spam, partisan...)."""

    text: str
    label: int
    source: str


def _split(rows: list[Example], test_share: float, salt: str) -> tuple[list[Example], list[Example]]:
    """Stratified, seeded split into (rest, held_out)."""
    rng = random.Random(f"{SEED}-{salt}")
    rest, held = [], []
    for lab in (0, 1):
        part = [r for r in rows if r.label == lab]
        idx = list(range(len(part)))
        rng.shuffle(idx)
        k = round(len(part) * test_share)
        held += [part[i] for i in idx[:k]]
        rest += [part[i] for i in idx[k:]]
    return rest, held


def olid_train_all() -> list[Example]:
    """OLID training file, sub-task A (OFF = 1)."""
    out = []
    with open(DATA / "olid" / "olid-training-v1.0.tsv", encoding="utf-8") as f:
        next(f)
        for line in f:
            parts = line.rstrip("\n").split("\t")
            out.append(Example(parts[1], int(parts[2] == "OFF"), "olid"))
    return out


def olid_split() -> tuple[list[Example], list[Example]]:
    """OLID train minus a 10% validation split, and that validation split."""
    return _split(olid_train_all(), 0.10, "olid")


def olid_test() -> list[Example]:
    """The official OLID test set, sub-task A, gold labels from labels-levela.csv."""
    gold = {}
    with open(DATA / "olid" / "labels-levela.csv", encoding="utf-8") as f:
        for row in csv.reader(f):
            if row and row[0] != "id":
                gold[row[0]] = int(row[1] == "OFF")
    out = []
    with open(DATA / "olid" / "testset-levela.tsv", encoding="utf-8") as f:
        next(f)
        for line in f:
            i, text = line.rstrip("\n").split("\t", 1)
            out.append(Example(text, gold[i], "olid-test"))
    return out


def davidson_all() -> list[Example]:
    """Davidson tweets; hate speech or offensive language = 1, neither = 0."""
    with open(DATA / "davidson" / "labeled_data.csv", encoding="utf-8") as f:
        return [Example(r["tweet"], int(r["class"] != "2"), "davidson") for r in csv.DictReader(f)]


def davidson_split() -> tuple[list[Example], list[Example]]:
    """Davidson minus a 20% held-out test split, and that split."""
    return _split(davidson_all(), 0.20, "davidson")


def ethos_all() -> list[Example]:
    """ETHOS binary; isHate >= 0.5 = 1."""
    with open(DATA / "ethos" / "Ethos_Dataset_Binary.csv", encoding="utf-8") as f:
        rows = list(csv.reader(f, delimiter=";"))[1:]
    return [Example(r[0], int(float(r[1]) >= 0.5), "ethos") for r in rows if len(r) >= 2]


def ethos_split() -> tuple[list[Example], list[Example]]:
    """ETHOS minus a 50% held-out test split, and that split."""
    return _split(ethos_all(), 0.50, "ethos")


def sms_all() -> list[Example]:
    """SMS Spam Collection; spam = 1."""
    out = []
    with open(DATA / "sms_spam" / "SMSSpamCollection", encoding="utf-8", errors="replace") as f:
        next(f)
        for line in f:
            lab, _, text = line.rstrip("\n").partition("\t")
            out.append(Example(text, int(lab == "spam"), "sms"))
    return out


def youtube_all() -> list[Example]:
    """YouTube Spam Collection (all five videos); spam = 1."""
    out = []
    for p in sorted((DATA / "youtube_spam").glob("Youtube0*.csv")):
        with open(p, encoding="utf-8", errors="replace") as f:
            for r in csv.DictReader(f):
                out.append(Example(r["CONTENT"], int(r["CLASS"]), "youtube"))
    return out


def spam_split(which: str) -> tuple[list[Example], list[Example]]:
    """A spam set minus a 50% held-out test split, and that split."""
    rows = sms_all() if which == "sms" else youtube_all()
    return _split(rows, 0.50, which)


def ham_split() -> tuple[list[Example], list[Example]]:
    """Everyday messages, (fit, held out): the ham of the SMS and YouTube training halves minus
    their validation fifths (those choose the commercial thresholds), every third one held out.
    One split for every model, so no model's validation ham was another's training ham."""
    ham = [Example(r.text, 0, "ham") for w in ("sms", "youtube") for i, r in enumerate(spam_split(w)[0])
           if i % 5 and not r.label]
    return [r for i, r in enumerate(ham) if i % 3], ham[::3]


def political_all() -> list[Example]:
    """Political Social Media Posts (evaluation only: licence unverified); partisan = 1."""
    raw = (DATA / "political_social_media" / "political_social_media.csv").read_text(encoding="utf-8-sig")
    return [Example(r["text"], int(r["bias"] == "partisan"), "political") for r in csv.DictReader(io.StringIO(raw))]
