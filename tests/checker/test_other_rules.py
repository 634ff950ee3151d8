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


def _said(policy, text: str, account: str = "personal") -> set[str]:
    """The categories of the rule layer's own student-connection findings (what the post says
    it did), never a judgment head's."""
    v = check(Post(text=text, account=account), policy)
    return {f.category for f in v.findings if f.rule == "student-connection"
            and f.reason.startswith(("says it accepted", "inviting students"))}


@pytest.mark.parametrize("text,category", [
    # docs/policy-taxonomy.md §11, its examples and their kind (all names fictional)
    ("[accepted friend request from Tyler Quinlan] see you 3rd period!", "student"),
    ("Ya te acepté en Insta 😊 pero mañana hay examen", "student"),
    ("my students found my page so I followed them back lol", "student"),
    ("Sure, I'll follow you back! He's 16 now and a junior at his new school, my former student", "minor-alumnus"),
    ("Accepted all the class parents' requests so we can chat about the trip 😊", "parent"),
    ("[followed back @dale.c] Madison's dad from the bleachers", "parent"),
    ("Hey 7th graders, follow me on my personal Insta @ms.ortiz.life!", "solicited-connection"),
    ("Padres, agréguenme a mi Facebook personal para hablar más fácil.", "solicited-connection"),
    ("To my class parents: send me a friend request and message me anytime", "solicited-connection"),
    ("if you're in my bio class follow me here, I post my dog", "solicited-connection"),
])
def test_a_post_saying_it_connected_with_a_student_or_parent(policy, text, category):
    assert _said(policy, text) == {category}


@pytest.mark.parametrize("text", [
    "[accepted friend request from Tyler Quinlan] my nephew finally joined, hi bud",  # a relative
    "[accepted friend request from Pat Example] best friends since kindergarten, yes her kids are in the district",
    "Accepted a follow from a 19-year-old graduate, so proud of her",  # an adult alumnus
    "Accepted a request from my former student, now 33 with kids of his own",
    "Reminder to my students: I never accept friend requests on personal accounts.",
    "Someone asked if I'd accept their kid's friend request. No.",
    "Follow @NonnewaugAthletics for updates, families!",  # a sponsored account, not the employee's own
    "Former students now over 18, happy to write references. Email my school address.",
    "Recordatorio para mis estudiantes: no acepto solicitudes en redes personales.",
    "I declined three friend requests from students this week. Boundaries!",
])
def test_near_misses_of_a_connection_post(policy, text):
    assert _said(policy, text) == set()


def test_a_connection_post_on_a_sponsored_page_is_not_p1(policy):
    assert _said(policy, "Hey students, follow me on my personal Insta @ms.ortiz.life!", "sponsored") == set()


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
