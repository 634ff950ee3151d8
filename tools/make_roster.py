"""Generate a FICTIONAL sample roster for a policy folder (no real students).

Usage: python tools/make_roster.py OUT.csv [N] [SEED]
Every name is drawn at random from common first/last name lists; any resemblance to a
real person is coincidental.
"""

from __future__ import annotations

import csv
import random
import sys

FIRST = (
    "Aiden Amelia Aria Ava Benjamin Caleb Camila Carter Charlotte Chloe Daniel Dylan Eleanor "
    "Elijah Ella Emily Emma Ethan Evelyn Ezra Gabriel Grace Hannah Harper Henry Isaac Isabella "
    "Jack Jackson Jacob Jayden Julian Kai Layla Leah Levi Liam Lily Logan Lucas Luna Madison "
    "Maya Mia Micah Nathan Noah Nora Oliver Owen Penelope Riley Ryan Samuel Sebastian Sofia "
    "Sophia Stella Theodore Victoria Violet Wyatt Zoe Priya Mateo Santiago Yusuf Amara Keiko "
    "Declan Rowan Tobias Imani Anya Ezekiel Delphine Oskar Soren Thea Ines Rafael Marisol"
).split()
LAST = (
    "Abernathy Alcott Ashworth Bancroft Barlowe Beaumont Birchfield Blackwood Brightwater "
    "Calloway Carrington Castellano Chadwick Colquitt Cornwell Dalrymple Delacroix Drummond "
    "Eastwick Ellsworth Fairbanks Fenwick Fitzgerald Galloway Garrison Goodwin Greenleaf "
    "Halloran Hargrove Hawthorne Holloway Huxley Ingram Jessup Kensington Kowalczyk Lachance "
    "Langford Larkspur Lockwood Lyndon MacAllister Marchetti Merriweather Montague Nakamura "
    "Northcott Oakhurst Okonkwo Pemberton Penhaligon Quintero Radcliffe Ravensworth Rockwell "
    "Santangelo Sheffield Silverman Stanhope Sutherland Thackeray Thornbury Trevelyan Underhill "
    "Vanderbeck Wadsworth Whitcombe Winslow Yardley Zimmerman Okafor Lindqvist Brennan Castillo"
).split()
NICK = {"Benjamin": "Ben", "Samuel": "Sam", "Theodore": "Teddy", "Elijah": "Eli", "Isabella": "Izzy",
        "Victoria": "Tori", "Jacob": "Jake", "Nathan": "Nate", "Sebastian": "Bash", "Gabriel": "Gabe"}
# Fixed rows the tests rely on (also fictional): an opted-out student whose first name is a
# common word and whose last name a teacher shares, and a student whose first name is "Hope".
FIXED = [
    ("Mason", "Brandt", "yes", "S100001", "", 10),
    ("Hope", "Delacroix", "no", "S100002", "", 11),
    ("Tyler", "Quinlan", "no", "S100003", "", 9),
    ("Jordan", "Whitfield", "yes", "S100004", "Jordy", 12),
    ("Olivia", "Marchetti", "no", "S100005", "Liv", 8),
    ("Lucas", "Fenwick", "yes", "S100006", "Luke", 7),
]


def main() -> None:
    """Write the roster CSV."""
    out = sys.argv[1]
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 300
    rng = random.Random(int(sys.argv[3]) if len(sys.argv) > 3 else 14)
    rows, seen = [], set()
    for first, last, opt, sid, pref, grade in FIXED:
        rows.append((first, last, opt, sid, pref, grade))
        seen.add((first, last))
    sid_n = 100100
    syll = ["ar", "bel", "cor", "dan", "el", "fen", "gar", "hol", "ing", "kes", "lan", "mor",
            "nor", "os", "pem", "quil", "ros", "sten", "tor", "ul", "vane", "wick", "yor", "zell"]
    while len(rows) < n:
        first, last = rng.choice(FIRST), rng.choice(LAST)
        if len(seen) > len(FIRST) * len(LAST) // 2:
            # Past the name lists: invented surnames from syllables (still fictional).
            last = "".join(rng.choice(syll) for _ in range(rng.randint(2, 3))).capitalize()
        if (first, last) in seen:
            continue
        seen.add((first, last))
        sid_n += rng.randint(1, 9)
        opt = "yes" if rng.random() < 0.06 else "no"
        pref = NICK.get(first, "") if rng.random() < 0.5 else ""
        rows.append((first, last, opt, f"S{sid_n}", pref, rng.randint(6, 12)))
    with open(out, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["first_name", "last_name", "directory_opt_out", "student_id", "preferred_name", "grade"])
        w.writerows(rows)


if __name__ == "__main__":
    main()
