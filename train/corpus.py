"""Our own training text (train/examples/) and OLID's weak political labels.

Shared by the linear models (`python -m train`) and the encoder (`python -m train.neural`).
"""

from __future__ import annotations

import re
from pathlib import Path

from train import data as D

EXAMPLES = Path(__file__).parent / "examples"


def own(name: str) -> list[tuple[int, str, str]]:
    """Our own examples: (label, category, text) from train/examples/<name>.tsv."""
    out = []
    for line in (EXAMPLES / name).read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        parts = line.split("\t")
        if len(parts) == 2:
            out.append((int(parts[0]), "", parts[1]))
        else:
            out.append((int(parts[0]), parts[1], parts[2]))
    return out


def own_lines(name: str) -> list[str]:
    """The non-empty, non-comment lines of train/examples/<name> (casual.txt, political_val.txt)."""
    return [x for x in (EXAMPLES / name).read_text(encoding="utf-8").splitlines() if x and x[0] != "#"]


def district_posts(*extra: str) -> list[D.Example]:
    """Our own everyday district posts, negatives for every model (+ `extra` example files)."""
    lines = []
    for name in ("district.txt", *extra):
        lines += (EXAMPLES / name).read_text(encoding="utf-8").splitlines()
    return [D.Example(x, 0, "own") for x in lines if x.strip() and not x.startswith("#")]


def clean_word_examples() -> list[D.Example]:
    """Two neutral sentences per clean word that contains an offensive string (Scunthorpe)."""
    out = []
    for line in (EXAMPLES / "clean_words.txt").read_text(encoding="utf-8").splitlines():
        w = line.strip()
        if w and not w.startswith("#"):
            out.append(D.Example(f"We talked about {w} in class today.", 0, "own"))
            out.append(D.Example(f"Here is a photo of the {w} from our trip", 0, "own"))
    return out


POLITICAL_HINTS = (
    "maga", "trump", "obama", "clinton", "hillary", "democrat", "republican", "gop", "liberal", "conservative",
    "congress", "senate", "senator", "vote", "voting", "election", "kavanaugh", "potus", "president",
    "antifa", "leftist", "dems", "libs", "socialist", "midterm", "gun control", "2a", "nra",
    "immigration", "border", "impeach", "campaign", "ballot", "walkaway", "qanon", "feinstein", "pelosi",
)


def weak_political() -> tuple[list[D.Example], list[D.Example]]:
    """OLID train tweets (validation split excluded) weakly labeled political by topic words."""
    tr, _ = D.olid_split()
    pat = re.compile(r"\b(?:" + "|".join(re.escape(h) for h in POLITICAL_HINTS) + r")\w*", re.I)
    pos = [D.Example(r.text, 1, "olid-political") for r in tr if pat.search(r.text)]
    neg = [D.Example(r.text, 0, "olid-other") for r in tr if not pat.search(r.text)]
    return pos, neg
