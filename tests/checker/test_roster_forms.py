"""The name forms a student is identified by (docs/policy-taxonomy.md §3.1): full name, preferred
name, first name + initial, initial + surname, a surname unique on the roster, one-edit
misspellings of names of 5+ letters, and their near misses. Roster names are fictional."""

from __future__ import annotations

import pytest

from checker import load_policy
from checker.roster import NameView, _one_edit
from checker.text import fold


@pytest.fixture(scope="module")
def roster():
    return load_policy(checks=False).data.roster


def forms(roster, text):
    return [(text[h.start:h.end], h.form) for h in roster.find_names(NameView(fold(text)))]


@pytest.mark.parametrize("text,expect", [
    ("Mason Brandt scored", [("Mason Brandt", "full")]),
    ("Jordy Whitfield scored", [("Jordy Whitfield", "full")]),  # the roster's preferred name
    ("Mason B. scored", [("Mason B", "initial")]),
    ("M. Brandt failed the final", [("M. Brandt", "initial-surname")]),
    ("Brandt got suspended again", [("Brandt", "surname")]),
    ("QUINLAN has a concussion", [("QUINLAN", "surname")]),
    ("Mason Brant is failing", [("Mason Brant", "misspelled")]),
    ("Tyler Quinlen got an F", [("Tyler Quinlen", "misspelled")]),
])
def test_forms_that_name_a_student(roster, text, expect):
    assert forms(roster, text) == expect


@pytest.mark.parametrize("text", [
    "Mr. Brandt got suspended",          # a title: an adult
    "Coach Quinlan is out sick",
    "brandt got suspended",              # a surname alone must be capitalised
    "Fenwick got suspended",             # more than one student has this surname
    "Mason Brxnxt is failing",           # two edits
])
def test_near_misses(roster, text):
    assert forms(roster, text) == []


def test_the_initial_form_needs_a_capital_initial(roster):
    assert ("a Brandt", "initial-surname") not in forms(roster, "a Brandt family reunion photo")


def test_one_edit():
    assert _one_edit("brandt", "brant") and _one_edit("quinlan", "quinlen") and _one_edit("mason", "masno")
    assert not _one_edit("brandt", "brandt") and not _one_edit("brandt", "brxnxt")
