"""student-connection (P1) and unapproved-site (D2/D3)."""

from __future__ import annotations

import pytest

from checker import Post, check


@pytest.mark.parametrize("counterpart,settings,fires", [
    ("Tyler Quinlan", {}, True),  # fictional roster student
    ("tyler quinlan", {}, True),
    ("Pat Example", {"relationship": "parent"}, True),
    ("Tyler Quinlan", {"relationship": "relative"}, False),
    ("Pat Example", {}, False),
])
def test_student_connection(policy, counterpart, settings, fires):
    v = check(Post(kind="connection", counterpart=counterpart, settings=settings, account="personal"), policy)
    assert ("student-connection" in v.fired) is fires


def test_connection_rule_ignores_plain_posts(policy):
    assert "student-connection" not in check(Post(text="Tyler Quinlan", counterpart="Tyler Quinlan"), policy).fired


def test_unapproved_district_page(policy):
    v = check(Post(text="Nonnewaug Chargers Boys Soccer", kind="create_page", target="https://www.facebook.com/NewChargersSoccer"), policy)
    assert "unapproved-site" in v.fired
    assert {f.clause for f in v.findings if f.rule == "unapproved-site"} == {"D2"}


def test_unbranded_page_is_fine(policy):
    v = check(Post(text="Woodbury Garden Club", kind="create_page"), policy)
    assert "unapproved-site" not in v.fired


def test_registered_group_set_up_against_rule_3(policy):
    v = check(Post(text="Band parents", kind="group_settings", target="555000111222333",
                   settings={"privacy": "public", "members_can_post": True}), policy)
    assert v.account == "sponsored"
    assert sorted(f.clause for f in v.findings if f.rule == "unapproved-site") == ["D3", "D3"]
