"""unapproved-site from what a post says (docs/policy-taxonomy.md §12): announcing a branded
site that is not in the registry, or a group run against D3; and the taxonomy's near misses."""

from __future__ import annotations

import pytest

from checker import Post, check, load_policy

GROUP = "https://www.facebook.com/groups/NonnewaugBandParents"


@pytest.fixture(scope="module")
def policy():
    return load_policy()


@pytest.mark.parametrize("account,text,category", [
    ("personal", "Just made a new page 'NHS Girls Soccer Fam'! Like and share", "unregistered"),
    ("sponsored", "The team group is public now, anyone can join, no approval needed!", "open-group"),
    ("sponsored", "I turned on member posting, so post your own game pics directly!", "member-posting"),
    ("sponsored", "Friend me first so I can add you to the team page!", "friend-connections"),
    ("sponsored", "This group is students only, no parents, so we can talk freely", "access-restricted"),
    ("sponsored", "I never check the club group, whatever they post is on them.", "unmonitored"),
])
def test_positives(policy, account, text, category):
    v = check(Post(text=text, account=account, target=GROUP if account == "sponsored" else None), policy)
    assert [f.category for f in v.findings if f.rule == "unapproved-site"] == [category]


@pytest.mark.parametrize("account,text", [
    ("sponsored", "Request to join the team group. I'll approve players, parents and staff."),
    ("sponsored", "The group is closed; parents, ask me for an invite."),
    ("sponsored", "Send me your photos and I'll post the best ones."),
    ("sponsored", "Member posts are off; comments are reviewed before they appear."),
    ("sponsored", "Added all players to the team group's member list."),
    ("sponsored", "Parents are welcome to join any group their child is in."),
    ("sponsored", "I'll be checking the group daily during the season."),
    ("personal", "My personal page: Lena Ortiz Photography, new portfolio up"),
    ("personal", "Made a new playlist for the drive to work"),
])
def test_near_misses(policy, account, text):
    v = check(Post(text=text, account=account, target=GROUP if account == "sponsored" else None), policy)
    assert "unapproved-site" not in v.fired
