"""`postguard check` and `postguard eval` through the real command line: exit codes, JSON,
and bad input answered with one line and exit 2, never a traceback or a roster name."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

ROSTER_NAMES = ("Quinlan", "Brandt", "Delacroix", "Whitfield", "Marchetti", "Fenwick")


def pg(*args: str, stdin: bytes | None = None, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "postguard", *args], input=stdin, capture_output=True,
                          env={**os.environ, **(env or {})}, timeout=60)


def test_clean_exit_0_and_json():
    r = pg("check", "--json", "Great game tonight, go team!")
    assert r.returncode == 0, r.stderr
    d = json.loads(r.stdout)
    assert d["fired"] == [] and d["account"] == "personal" and len(d["policy_digest"]) == 16


def test_findings_exit_1_with_clause_reason_span_fix():
    r = pg("check", "--json", "So proud of the Nonnewaug Chargers! Schedules at ctreg14.org")
    assert r.returncode == 1
    d = json.loads(r.stdout)
    assert d["fired"] == ["district-link", "missing-disclaimer"]
    f = {x["rule"]: x for x in d["findings"]}
    assert f["missing-disclaimer"]["clause"] == "P2" and f["missing-disclaimer"]["fix_text"]
    assert f["district-link"]["clause"] == "P4" and f["district-link"]["link"] == "ctreg14.org"
    assert f["missing-disclaimer"]["span"] == [16, 34]


def test_text_report_and_stdin():
    r = pg("check", "-", "--account", "sponsored", stdin=b"Vote yes on Question 2!")
    assert r.returncode == 1 and "prohibited-purpose (D9)" in r.stdout.decode()


def test_target_decides_sponsored():
    r = pg("check", "--json", "--target", "https://www.facebook.com/NonnewaugAthletics", "I think the board is wrong")
    d = json.loads(r.stdout)
    assert d["account"] == "sponsored" and "misrepresentation" in d["fired"]


def test_link_and_image_options(tmp_path):
    from PIL import Image

    from checker.policy import DEFAULT_POLICY_DIR

    img = tmp_path / "team.jpg"
    Image.open(DEFAULT_POLICY_DIR / "logos" / "region14-shield.png").convert("RGB").resize((300, 300)).save(img, quality=60)
    r = pg("check", "--json", "--image", str(img), "--link", "https://www.ctreg14.org/", "Game day")
    assert sorted(json.loads(r.stdout)["fired"]) == ["district-link", "district-logo"]


BAD = [
    (["check", ""], None, "nothing to check"),
    (["check"], None, "nothing to check"),
    (["check", "-"], b"x" * 1_000_001, "the limit is 100,000"),
    (["check", "-"], b"caf\xe9 \xff\xfe", "stdin: invalid UTF-8 at byte 3"),
    (["check", "-"], "hi \ud800 there".encode("utf-8", "surrogatepass"), "invalid UTF-8"),
    (["check", "bell\x07 char"], None, "control character U+0007"),
    (["check", "--image", "/nonexistent.png", "hi"], None, "No such file"),
    (["check", "--policy", "/nonexistent", "hi"], None, "policy folder not found"),
    (["eval", "/nonexistent.jsonl"], None, "No such file"),
]


@pytest.mark.parametrize("args,stdin,msg", BAD)
def test_bad_input_one_line_exit_2(args, stdin, msg):
    r = pg(*args, stdin=stdin)
    assert r.returncode == 2, (r.stdout, r.stderr)
    err = r.stderr.decode()
    assert msg in err and "Traceback" not in err and len(err.strip().splitlines()) == 1, err


def test_lone_surrogate_argument():
    # A non-UTF-8 byte in argv arrives as a lone surrogate (surrogateescape).
    r = subprocess.run([sys.executable.encode(), b"-m", b"postguard", b"check", b"caf\xe9"], capture_output=True)
    assert r.returncode == 2 and b"lone surrogate" in r.stderr


def test_image_that_is_not_one(tmp_path):
    p = tmp_path / "fake.png"
    p.write_bytes(b"<html>not an image</html>")
    r = pg("check", "--image", str(p), "hi")
    assert r.returncode == 2 and b"fake.png: not a readable image" in r.stderr


def test_broken_policy_file(tmp_path):
    import shutil

    from checker.policy import DEFAULT_POLICY_DIR

    d = tmp_path / "p"
    shutil.copytree(DEFAULT_POLICY_DIR, d)
    (d / "students.csv").write_text("first_name,last_name,directory_opt_out\nTyler,Quinlan,perhaps\n")
    r = pg("check", "--policy", str(d), "hi")
    assert r.returncode == 2
    assert b"students.csv: line 2.directory_opt_out" in r.stderr and b"Quinlan" not in r.stderr


def test_roster_never_in_output_of_a_privacy_finding():
    r = pg("check", "--json", "Tyler Quinlan failed algebra")
    d = json.loads(r.stdout)
    # The excerpt quotes the user's own text; nothing beyond it (no other roster rows).
    others = [n for n in ROSTER_NAMES if n != "Quinlan"]
    assert not any(n in r.stdout.decode() for n in others)
    assert d["fired"] == ["student-privacy"]


def test_eval_predictions_and_scores(tmp_path):
    cases = tmp_path / "c.jsonl"
    lines = [
        {"id": "a", "text": "you are an idiot", "account": "personal", "expect": ["conduct"]},
        {"id": "b", "text": "Great game!", "account": "personal", "expect": []},
        {"id": "c", "text": "Great game!", "account": "personal", "expect": ["conduct"]},  # a miss
        {"id": "d", "text": "Vote yes on Question 2", "account": "sponsored", "expect": []},  # a false alarm
    ]
    cases.write_text("\n".join(json.dumps(x) for x in lines) + "\n")
    out = tmp_path / "pred.jsonl"
    r = pg("eval", str(cases), "--json", "--predictions", str(out))
    assert r.returncode == 0, r.stderr
    s = json.loads(r.stdout)
    assert s["rules"]["conduct"] == {"precision": 1.0, "recall": 0.5, "f1": 0.6667, "tp": 1, "fp": 0, "fn": 1, "support": 2}
    assert s["rules"]["prohibited-purpose"]["fp"] == 1
    preds = [json.loads(x) for x in out.read_text().splitlines()]
    assert [p["id"] for p in preds] == ["a", "b", "c", "d"]
    assert preds[0]["fired"] == ["conduct"] and preds[0]["findings"][0]["clause"] == "P9"


@pytest.mark.parametrize("line,msg", [
    ("{not json", "c.jsonl:1: invalid JSON"),
    ('{"id": "x", "text": "t"}', "c.jsonl:1: expect: missing"),
    ('{"id": "x", "text": "t", "expect": [], "account": "public"}', "c.jsonl:1: account"),
    ('{"id": "x", "text": "t", "expect": []}\n{"id": "x", "text": "t", "expect": []}', "c.jsonl:2: id: duplicate"),
])
def test_eval_bad_cases(tmp_path, line, msg):
    p = tmp_path / "c.jsonl"
    p.write_text(line + "\n")
    r = pg("eval", str(p))
    assert r.returncode == 2 and msg in r.stderr.decode()
