"""Policy loading: every bad value is named with its file and key; the roster never leaks."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from checker import PolicyError, load_policy
from checker.policy import DEFAULT_POLICY_DIR


@pytest.fixture()
def pdir(tmp_path: Path) -> Path:
    d = tmp_path / "pol"
    shutil.copytree(DEFAULT_POLICY_DIR, d)
    return d


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, old
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def test_default_policy_loads_every_clause_and_rule():
    p = load_policy()
    assert {f"D{i}" for i in range(1, 11)} | {f"P{i}" for i in range(1, 10)} <= set(p.data.clauses)
    ids = {r.id for r in p.rules}
    assert ids == {"conduct", "student-privacy", "directory-opt-out", "prohibited-purpose",
                   "misrepresentation", "personal-link", "district-link", "missing-disclaimer",
                   "district-logo", "student-connection", "unapproved-site"}
    assert len(p.digest) == 16 and p.district.name == "Regional School District No. 14"
    assert len(p.data.roster) >= 300


def test_digest_changes_with_any_file(pdir):
    a = load_policy(pdir).digest
    edit(pdir / "rules.toml", "retention_days = 365", "retention_days = 30")
    assert load_policy(pdir).digest != a


BAD = [
    ("rules.toml", 'action = { personal = "warn", sponsored = "block" }', 'action = "shout"',
     "rules.toml: rules.conduct.action: must be one of off, log, warn, block (got 'shout')"),
    ("rules.toml", 'content = "redacted"', 'content = "everything"', "rules.toml: settings.content"),
    ("rules.toml", "max_distance = 8", 'max_distance = "close"', "rules.toml: rules.district-logo.max_distance"),
    ("rules.toml", "[rules.misrepresentation]", "[rules.misrepresentaton]", "rules.toml: rules.misrepresentaton: unknown rule id"),
    ("rules.toml", "window_sentences = 1", "window_sentence = 1", "rules.toml: rules.student-privacy.window_sentence: unknown setting"),
    ("rules.toml", "'\\bkys\\b',", "'\\bkys(\\b',", "rules.toml: rules.conduct"),
    ("district.toml", 'websites = ["ctreg14.org"', 'websites = ["https://ctreg14.org/x"', "district.toml: websites"),
    ("district.toml", "approved_on = 2025-09-02", 'approved_on = "last fall"', "district.toml: sponsored[0].approved_on"),
    ("district.toml", 'name = "Regional School District No. 14"', "name = 14", "district.toml: name"),
    ("district.toml", "[[sponsored]]", "[[sponsored]\n", "district.toml: -: invalid TOML"),
    ("clauses.toml", "D8 = ", "D88 = ", "clauses.toml: clauses.D8: missing clause text"),
]


@pytest.mark.parametrize("file,old,new,expect", BAD)
def test_bad_values_are_named(pdir, file, old, new, expect):
    edit(pdir / file, old, new)
    with pytest.raises(PolicyError) as e:
        load_policy(pdir)
    assert expect in str(e.value)


def test_missing_folder_and_file(pdir, tmp_path):
    with pytest.raises(PolicyError, match="policy folder not found"):
        load_policy(tmp_path / "nope")
    (pdir / "rules.toml").unlink()
    with pytest.raises(PolicyError, match="rules.toml: -: missing file"):
        load_policy(pdir)


@pytest.mark.parametrize("content,expect", [
    ("first_name,last_name\nAda,Zed\n", "students.csv: header: missing column(s) directory_opt_out"),
    ("first_name,last_name,directory_opt_out\nAda,Zed,maybe\n", "students.csv: line 2.directory_opt_out: must be yes or no"),
    ("first_name,last_name,directory_opt_out\n,Zed,no\n", "students.csv: line 2: first_name and last_name"),
])
def test_roster_errors_name_the_line_not_the_student(pdir, content, expect):
    (pdir / "students.csv").write_text(content, encoding="utf-8")
    with pytest.raises(PolicyError) as e:
        load_policy(pdir)
    assert expect in str(e.value)
    assert "Zed" not in str(e.value) and "Ada" not in str(e.value)


def test_binary_garbage_file(pdir):
    (pdir / "district.toml").write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(PolicyError, match="district.toml: -: not UTF-8"):
        load_policy(pdir)


def test_rule_can_be_switched_off(pdir):
    from checker import Post, check

    edit(pdir / "rules.toml", 'action = { personal = "warn", sponsored = "block" }', 'action = "off"')
    v = check(Post(text="you are an idiot", account="personal"), load_policy(pdir))
    assert "conduct" not in v.fired
