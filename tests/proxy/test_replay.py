"""`postguard replay CAPTURE.har` end to end through the command line, and its HAR reading."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from postguard.cli import UsageError, main
from postguard.commands.replay import load_har, replay, request_of

HERE = Path(__file__).parent
_spec = importlib.util.spec_from_file_location("pg_cases", HERE / "data" / "cases.py")
cases = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(cases)

FIXTURE = HERE / "data" / "payloads.har"
ROSTER_NAMES = ("Quinlan", "Brandt", "Delacroix", "Whitfield")


def pg(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "postguard", *args], capture_output=True, text=True,
                          env={**os.environ}, timeout=120)


def lines(r: subprocess.CompletedProcess) -> list[dict]:
    return [json.loads(x) for x in r.stdout.splitlines()]


def test_fixture_is_current():
    """The committed HAR is what cases.py builds (regenerate: python tests/proxy/data/cases.py)."""
    assert json.loads(FIXTURE.read_text()) == cases.build_fixture()


def test_clean_capture_json_lines():
    r = pg("replay", str(FIXTURE), "--json")
    assert r.returncode == 0, r.stderr
    rows = lines(r)
    names = cases.names()
    assert [x["index"] for x in rows] == list(range(len(names) + len(cases.NON_SUBMISSIONS)))
    for row in rows:
        assert {"index", "url", "site", "kind", "account", "texts", "fired", "findings"} <= set(row)
        assert row["fired"] == [] and row["findings"] == []
        assert row.get("proxy_action", "forward") == "forward"
        # an unreadable submission is forwarded and logged as such; a clean one leaves no event
        assert row.get("log_action") == ("logged" if row.get("unreadable") else None)
    for name, row in zip(names, rows, strict=False):
        spec, kind, target, unreadable = cases.EXPECT[name]
        assert (row["kind"], row["spec"], row["target"]) == (kind, spec, target), name
        if unreadable:
            assert unreadable in row["unreadable"] and row["account"] is None
        else:
            assert any(t.startswith(cases.SAMPLE) for t in row["texts"]), name
            assert row["account"] == ("sponsored" if name == "facebook_graph_page_feed" else "personal")
    for (label, *_), row in zip(cases.NON_SUBMISSIONS, rows[len(names):], strict=True):
        assert row["kind"] is None and row["texts"] == [] and row["account"] is None, label
        assert row["site"], label


@pytest.mark.parametrize(("text", "rule"), [(cases.PRIVACY, "student-privacy"), (cases.THREAT, "conduct")])
def test_violating_capture_fires_every_readable_payload(text, rule, tmp_path):
    entries = cases.payload_entries(text)
    har = tmp_path / "bad.har"
    har.write_text(json.dumps(cases.har([e for _, e in entries])))
    r = pg("replay", str(har), "--json")
    assert r.returncode == 1, r.stderr
    for (name, _), row in zip(entries, lines(r), strict=True):
        if cases.EXPECT[name][3]:
            assert row["fired"] == [] and row.get("unreadable"), name
            continue
        assert rule in row["fired"], name
        f = next(f for f in row["findings"] if f["rule"] == rule)
        assert f["clause"] and f["message"]
        # What the proxy would do, from the same decision path (`enforce.decide`).
        ws = "ws_message" in row
        want = {"warn": ("logged", "forward") if ws else ("warned", "warn"),
                "block": ("blocked", "drop") if ws else ("blocked", "block")}[row["action"]]
        assert (row["log_action"], row["proxy_action"]) == want, name
    graph = next(row for (n, _), row in zip(entries, lines(r), strict=True) if n == "facebook_graph_page_feed")
    assert graph["account"] == "sponsored"


def test_text_report(tmp_path):
    entries = [e for _, e in cases.payload_entries()][:2] + [
        cases.har_entry(*cases.request("reddit_comment", cases.THREAT))]
    har = tmp_path / "mixed.har"
    har.write_text(json.dumps(cases.har(entries)))
    r = pg("replay", str(har))
    assert r.returncode == 1
    out = r.stdout.splitlines()
    assert out[0].startswith("#0 bsky.social: reply [personal]: clean")
    assert out[2].startswith("#2 oauth.reddit.com: comment [personal]: ") and "conduct" in out[2]
    assert out[-1] == "3 request(s), 3 submission(s), 1 with findings"


@pytest.mark.parametrize(("content", "msg"), [
    (None, "No such file"),
    (b"{not json", "malformed JSON"),
    (b"\xff\xfe\x00garbage", "invalid UTF-8"),
    (b'{"log": {"version": "1.2"}}', "no log.entries"),
    (b"[1, 2, 3]", "no log.entries"),
])
def test_broken_har_one_line_exit_2(content, msg, tmp_path, capsys):
    p = tmp_path / "broken.har"
    if content is not None:
        p.write_bytes(content)
    assert main(["replay", str(p), "--json"]) == 2  # in-process: the same code path as the console script
    out, err = capsys.readouterr()
    assert out == ""
    lines_ = err.strip().splitlines()
    assert len(lines_) == 1 and msg in lines_[0] and lines_[0].startswith("postguard: error: ")


def test_bad_entries_are_reported_per_request(policy, tmp_path):
    bomb_entry = cases.har_entry("POST", "https://x.com/i/api/graphql/q/CreateTweet",
                                 {"content-type": "application/json"}, b'{"variables": {"tweet_text": "x"')
    entries = [{"nothing": 1}, bomb_entry,
               {"request": {"method": "POST", "url": "https://x.com/i/api/1.1/dm/new2.json",
                            "headers": [], "postData": {"mimeType": "application/json", "text": "@@@",
                                                        "encoding": "base64"}}},
               cases.har_entry("POST", "https://www.facebook.com/x", {}, None)]
    rows = list(replay(entries, policy))
    assert [r["index"] for r in rows] == [0, 1, 2, 3]
    assert "no request" in rows[0]["error"]
    assert "malformed JSON" in rows[1]["error"]
    assert "base64" in rows[2]["error"]
    assert "error" not in rows[3] and rows[3]["kind"] is None
    for r in rows:
        assert r["fired"] == []
    # the broken CreateTweet body went to a known posting endpoint: its fail mode (block) applies
    assert rows[1]["proxy_action"] == "error" and rows[1]["log_action"] == "error"


def test_har_details(tmp_path):
    # pseudo-headers dropped, mimeType used, params-only postData rebuilt, Content-Encoding ignored
    entry = {"request": {"method": "POST", "url": "https://oauth.reddit.com/api/comment",
                         "headers": [{"name": ":authority", "value": "oauth.reddit.com"},
                                     {"name": "Content-Encoding", "value": "gzip"}],
                         "postData": {"mimeType": "application/x-www-form-urlencoded",
                                      "params": [{"name": "thing_id", "value": "t3_x"},
                                                 {"name": "text", "value": cases.SAMPLE}]}}}
    method, url, headers, body = request_of(entry)
    assert ":authority" not in headers and "content-encoding" not in headers
    assert body == b"thing_id=t3_x&text=Great+game+tonight%2C+go+team%21"
    p = tmp_path / "bom.har"
    p.write_bytes(b"\xef\xbb\xbf" + json.dumps(cases.har([entry])).encode())
    assert len(load_har(str(p))) == 1
    with pytest.raises(UsageError):
        load_har(str(tmp_path / "missing.har"))


def test_findings_do_not_leak_into_errors(tmp_path, capsys):
    """A broken body's error names the problem, never the roster student in it."""
    body = ('{"variables": {"tweet_text": "' + cases.PRIVACY + '"').encode()
    entry = cases.har_entry("POST", "https://x.com/i/api/graphql/q/CreateTweet", {"content-type": "application/json"}, body)
    p = tmp_path / "e.har"
    p.write_text(json.dumps(cases.har([entry])))
    # The raw bytes are still scanned: the student-privacy finding fires (exit 1) and the error
    # says what broke, without the roster name.
    assert main(["replay", str(p)]) == 1
    out, err = capsys.readouterr()
    assert "error: unreadable body: body: malformed JSON" in out and "student-privacy" in out
    assert not any(n in out + err for n in ROSTER_NAMES)
