"""`postguard logs`: list/show/export/verify/purge on both backends."""

from __future__ import annotations

import csv
import io
import json
import time
from pathlib import Path
from typing import Any

import pytest

from postguard.cli import main
from store import Event, StoreConfig, open_store

NOW = time.time()
EVENTS = [
    dict(action="warned", site="www.facebook.com", device="pc-1", employee="a.teacher", age=0.1,
         findings=[{"rule": "student-privacy", "clause": "P5", "reason": "name + grade", "score": 0.9, "span": [0, 13]}],
         text="Tyler Quinlan failed the quiz"),
    dict(action="blocked", site="x.com", device="pc-2", employee="b.coach", age=1,
         findings=[{"rule": "conduct", "clause": "P9", "reason": "slur", "score": 0.8, "span": [0, 5]}],
         text="idiot referee"),
    dict(action="overridden", site="www.facebook.com", device="pc-1", employee="a.teacher", age=2,
         findings=[{"rule": "missing-disclaimer", "clause": "P2", "reason": "mentions the district", "score": 0.6}],
         text="Region 14 rocks", justification="it is my own page"),
    dict(action="logged", site="www.instagram.com", device="pc-3", employee="c.nurse", age=200,
         findings=[], text="old post"),
]


@pytest.fixture
def log(db_url: str, config: StoreConfig, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.chdir(tmp_path)  # any default spool lands in the temp dir
    with open_store(db_url, config, auto_purge=False) as st:
        for e in reversed(EVENTS):  # oldest first, as they happened
            e = dict(e)
            age = e.pop("age")
            st.append(Event(source="proxy", time=NOW - age * 86400, **e))
        assert st.flush()
    return db_url


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    rc = main(list(argv))
    out = capsys.readouterr()
    return rc, out.out, out.err


@pytest.mark.parametrize("filters, want_sites", [
    ([], ["www.facebook.com", "x.com", "www.facebook.com", "www.instagram.com"]),
    (["--rule", "conduct"], ["x.com"]),
    (["--clause", "P5"], ["www.facebook.com"]),
    (["--site", "www.facebook.com", "--action", "overridden"], ["www.facebook.com"]),
    (["--employee", "a.teacher"], ["www.facebook.com", "www.facebook.com"]),
    (["--device", "pc-3"], ["www.instagram.com"]),
    (["--status", "reviewed"], []),
    (["--rule", "district-logo"], []),  # near miss: a rule nobody triggered
    (["--rule", "conduct", "--clause", "P9"], ["x.com"]),
    (["--rule", "conduct", "--clause", "P5"], []),  # near miss: both in the log, never together
    (["--rule", "student-privacy", "--clause", "P5", "--employee", "a.teacher"], ["www.facebook.com"]),
    (["--rule", "conduct", "--employee", "a.teacher"], []),
    (["--clause", "P2", "--device", "pc-1"], ["www.facebook.com"]),
    (["--rule", "missing-disclaimer", "--site", "www.facebook.com", "--status", "open"], ["www.facebook.com"]),
])
def test_list_filters(log: str, capsys: Any, filters: list[str], want_sites: list[str]) -> None:
    rc, out, _ = run(capsys, "logs", "list", "--db", log, "--json", *filters)
    assert rc == 0
    assert [json.loads(x)["site"] for x in out.splitlines()] == want_sites


def test_list_table_is_readable_and_paginates(log: str, capsys: Any) -> None:
    rc, out, _ = run(capsys, "logs", "list", "--db", log, "--limit", "2")
    lines = out.splitlines()
    assert rc == 0 and lines[0].split()[:3] == ["ID", "TIME", "(UTC)"]
    assert "more: postguard logs list --before" in out
    before = out.split("--before ")[1].split()[0]
    rc, out2, _ = run(capsys, "logs", "list", "--db", log, "--limit", "2", "--before", before)
    assert "www.instagram.com" in out2 and "more:" not in out2


@pytest.mark.parametrize("argv", [["--from", "2026-02-30"], ["--to", "yesterday"]])
def test_list_rejects_bad_dates(log: str, capsys: Any, argv: list[str]) -> None:
    rc, _, err = run(capsys, "logs", "list", "--db", log, *argv)
    assert rc == 2 and "YYYY-MM-DD" in err


def test_show_highlights_and_records_the_view(log: str, capsys: Any, config: StoreConfig) -> None:
    rc, out, _ = run(capsys, "logs", "list", "--db", log, "--json", "--rule", "student-privacy")
    uid = json.loads(out)["uid"]
    rc, out, _ = run(capsys, "logs", "show", uid, "--db", log)
    assert rc == 0 and "»[STUDENT]« failed the quiz" in out and "chain: intact" in out
    assert "Tyler" not in out
    with open_store(log, config) as st:
        assert [v["action"] for v in st.get_event(uid)["views"]] == ["view"]
    rc, _, err = run(capsys, "logs", "show", "nonexistent", "--db", log)
    assert rc == 2 and "no event" in err


@pytest.mark.parametrize("fmt", ["csv", "json"])
def test_export(log: str, capsys: Any, tmp_path: Path, fmt: str) -> None:
    out_file = tmp_path / f"x.{fmt}"
    rc, _, _ = run(capsys, "logs", "export", "--db", log, "--format", fmt, "--site", "www.facebook.com",
                   "-o", str(out_file))
    assert rc == 0
    text = out_file.read_text()
    if fmt == "csv":
        got = list(csv.DictReader(io.StringIO(text)))
        assert [json.loads(r["findings"])[0]["rule"] for r in got] == ["missing-disclaimer", "student-privacy"]
    else:
        got = json.loads(text)
        assert [r["action"] for r in got] == ["overridden", "warned"]  # oldest first
        assert got[0]["findings"][0]["clause"] == "P2"
    assert "Tyler" not in text


def test_verify_exit_codes(log: str, capsys: Any, config: StoreConfig) -> None:
    rc, out, _ = run(capsys, "logs", "verify", "--db", log)
    assert rc == 0 and "ok: 4 events" in out
    with open_store(log, config) as st, st.reader().write() as c:
        c.execute("UPDATE events SET justification = 'changed later' WHERE action = 'overridden'")
    rc, out, _ = run(capsys, "logs", "verify", "--db", log, "--json")
    res = json.loads(out)
    assert rc == 1 and not res["ok"] and res["problems"][0]["kind"] == "edited"
    assert res["problems"][0]["device"] == "pc-1"


def test_purge_command(log: str, capsys: Any) -> None:
    rc, out, _ = run(capsys, "logs", "purge", "--db", log, "--json")  # policy: 365 days
    assert rc == 0 and json.loads(out) == {"purged": 0, "days": 365}
    rc, out, _ = run(capsys, "logs", "purge", "--db", log, "--days", "100", "--json")
    assert rc == 0 and json.loads(out) == {"purged": 1, "days": 100}
    rc, out, _ = run(capsys, "logs", "purge", "--db", log, "--days", "1")
    assert rc == 0 and out.startswith("purged 2 events")
    rc, out, _ = run(capsys, "logs", "verify", "--db", log)
    assert rc == 0


def test_unreachable_database_is_a_usage_error(capsys: Any, tmp_path: Path, monkeypatch: Any) -> None:
    monkeypatch.chdir(tmp_path)
    rc, _, err = run(capsys, "logs", "list", "--db", "postgresql://nobody:secret@127.0.0.1:1/x?connect_timeout=1")
    assert rc == 2 and "cannot read the log" in err and "secret" not in err
