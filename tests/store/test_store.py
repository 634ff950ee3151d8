"""The interception log on both backends: content minimisation, chain, retention, spool."""

from __future__ import annotations

import csv
import hashlib
import json
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from store import Event, StoreConfig, open_store

ROOT = Path(__file__).resolve().parents[2]
PRIVACY_TEXT = "Tyler Quinlan failed the chemistry final again, call 203-555-0188"
FINDING = {"rule": "student-privacy", "clause": "P5", "reason": "student name + grades term",
           "score": 0.92, "action": "warn", "span": [0, 20], "excerpt": "Tyler Quinlan failed",
           "message": "P5: confidential student information", "fix_text": "remove the name"}


def roster_names() -> list[str]:
    with open(ROOT / "policies/region14/students.csv", encoding="utf-8") as f:
        return [f"{r['first_name']} {r['last_name']}" for r in csv.DictReader(f)]


def ev(**kw: Any) -> Event:
    base: dict[str, Any] = dict(source="proxy", action="warned", site="www.facebook.com",
                                url="https://www.facebook.com/api/graphql/?fb_dtsg=AbC123&access_token=zz#frag",
                                account="personal", target="https://www.facebook.com/me?ref=bookmarks",
                                kind="post", findings=[FINDING], text=PRIVACY_TEXT,
                                policy_digest="d1", device="laptop-7", employee="e.teacher")
    base.update(kw)
    return Event(**base)


def rows(st: Any, sql: str = "SELECT * FROM events ORDER BY id", params: tuple = ()) -> list[dict]:
    assert st.flush()
    return st.read(lambda c: c.all(sql, params))


def test_migrations_recorded_once(db_url: str, config: StoreConfig, tmp_path: Path) -> None:
    for _ in range(2):  # reopening must not re-apply anything
        with open_store(db_url, config, spool=tmp_path / "s.jsonl") as st:
            got = rows(st, "SELECT version, name FROM schema_migrations ORDER BY version")
    assert [r["version"] for r in got] == list(range(1, len(got) + 1))
    assert len(got) >= 2


def test_redacted_event_is_minimal(db_url: str, config: StoreConfig, tmp_path: Path) -> None:
    with open_store(db_url, config, spool=tmp_path / "s.jsonl") as st:
        uid = st.append(ev())
        (r,) = rows(st)
    assert r["uid"] == uid and r["content_mode"] == "redacted"
    assert r["content"].startswith("[STUDENT] failed") and "[PHONE]" in r["content"]
    assert r["content_hash"] == hashlib.sha256(PRIVACY_TEXT.encode()).hexdigest()
    assert r["url"] == "https://www.facebook.com/api/graphql/"
    assert r["target"] == "https://www.facebook.com/me"
    (f,) = json.loads(r["findings"])
    assert f["excerpt"] == "[STUDENT] failed"
    a, b = f["span"]
    assert r["content"][a:b] == "[STUDENT] failed"
    assert "message" not in f and "fix_text" not in f
    assert r["rules"] == "student-privacy" and r["device"] == "laptop-7" and r["seq"] == 1
    dump = json.dumps(rows(st_reopen(db_url, config, tmp_path)))
    for name in roster_names():
        assert name not in dump


def st_reopen(db_url: str, config: StoreConfig, tmp_path: Path) -> Any:
    return open_store(db_url, config, spool=tmp_path / "s.jsonl")


@pytest.mark.parametrize("mode, content_is", [
    ("none", None),
    ("redacted", "[STUDENT] failed the chemistry final again, call [PHONE]"),
    ("full", PRIVACY_TEXT),
])
def test_content_modes(db_url: str, config_with: Any, tmp_path: Path, mode: str, content_is: str | None) -> None:
    cfg = config_with(content=mode)
    with open_store(db_url, cfg, spool=tmp_path / "s.jsonl") as st:
        st.append(ev(justification="Tyler Quinlan's mom asked me to"))
        (r,) = rows(st)
    assert r["content"] == content_is
    assert r["content_hash"] == hashlib.sha256(PRIVACY_TEXT.encode()).hexdigest()
    (f,) = json.loads(r["findings"])
    assert ("excerpt" in f) == (mode != "none")
    if mode == "full":
        assert r["justification"] == "Tyler Quinlan's mom asked me to"
    else:
        assert "Tyler" not in r["justification"] and "[STUDENT]" in r["justification"]


@pytest.mark.parametrize("url, want", [
    ("https://www.facebook.com/api/graphql/?fb_dtsg=x&doc_id=1", "https://www.facebook.com/api/graphql/"),
    ("https://user:pw@x.com/i/api/1.1/statuses/update.json?oauth_token=t", "https://x.com/i/api/1.1/statuses/update.json"),
    ("https://www.instagram.com/api/v1/media/configure/#access_token=abc", "https://www.instagram.com/api/v1/media/configure/"),
    ("http://127.0.0.1:8080/post", "http://127.0.0.1:8080/post"),
    (None, None),
])
def test_url_secrets_dropped(tmp_path: Path, config: StoreConfig, url: str | None, want: str | None) -> None:
    with open_store(str(tmp_path / "l.sqlite"), config) as st:
        st.append(ev(url=url))
        (r,) = rows(st)
    assert r["url"] == want


def test_sqlite_file_is_owner_only(tmp_path: Path, config: StoreConfig) -> None:
    with open_store(str(tmp_path / "l.sqlite"), config) as st:
        st.append(ev())
        assert st.flush()
    assert (tmp_path / "l.sqlite").stat().st_mode & 0o077 == 0


@pytest.mark.parametrize("bad", [dict(action="posted"), dict(source="mail")])
def test_append_rejects_unknown_values(tmp_path: Path, config: StoreConfig, bad: dict) -> None:
    with open_store(str(tmp_path / "l.sqlite"), config) as st, pytest.raises(ValueError):
        st.append(ev(**bad))


def _tamper_edit(c: Any, ids: list[int]) -> None:
    c.execute("UPDATE events SET content = 'nothing to see' WHERE id = ?", (ids[2],))


def _tamper_action(c: Any, ids: list[int]) -> None:
    c.execute("UPDATE events SET action = 'passed' WHERE id = ?", (ids[1],))


def _tamper_delete_middle(c: Any, ids: list[int]) -> None:
    c.execute("DELETE FROM events WHERE id = ?", (ids[2],))


def _tamper_delete_last(c: Any, ids: list[int]) -> None:
    c.execute("DELETE FROM events WHERE id = ?", (ids[-1],))


def _tamper_swap(c: Any, ids: list[int]) -> None:
    # Swap the rows' storage order (ids) but leave every hashed field intact.
    for t in ("event_rules", "event_clauses", "event_pairs"):
        c.execute(f"DELETE FROM {t} WHERE event_id IN (?, ?)", (ids[1], ids[3]))
    c.execute("UPDATE events SET id = -1 WHERE id = ?", (ids[1],))
    c.execute("UPDATE events SET id = ? WHERE id = ?", (ids[1], ids[3]))
    c.execute("UPDATE events SET id = ? WHERE id = -1", (ids[3],))


def _tamper_renumber(c: Any, ids: list[int]) -> None:
    c.execute("UPDATE events SET seq = seq + 100 WHERE id = ?", (ids[4],))


@pytest.mark.parametrize("tamper, kind", [
    (_tamper_edit, "edited"),
    (_tamper_action, "edited"),
    (_tamper_delete_middle, "deleted"),
    (_tamper_delete_last, "deleted"),
    (_tamper_swap, "reordered"),
    (_tamper_renumber, "edited"),
])
def test_verify_detects_tampering(db_url: str, config: StoreConfig, tmp_path: Path, tamper: Any, kind: str) -> None:
    with open_store(db_url, config, spool=tmp_path / "s.jsonl") as st:
        for i in range(6):
            st.append(ev(device="laptop-7", text=f"post {i}"))
            st.append(ev(device="laptop-9", text=f"other {i}"))
        assert st.flush()
        assert st.verify() == (12, [])
        ids = [r["id"] for r in rows(st, "SELECT id FROM events WHERE device = 'laptop-7' ORDER BY seq")]
        with st.reader().write() as c:
            if c.pg:  # identity columns refuse direct writes unless overridden; a tamperer can
                c.execute("ALTER TABLE events ALTER COLUMN id SET GENERATED BY DEFAULT")
            tamper(c, ids)
        n, problems = st.verify()
    assert problems, "tampering went unnoticed"
    assert kind in {p.kind for p in problems}
    assert {p.device for p in problems} == {"laptop-7"}  # the other chain is intact


def test_verify_clean_on_untouched_and_near_misses(db_url: str, config: StoreConfig, tmp_path: Path) -> None:
    # Review status and the audit trail are not part of the chain: changing them is no tampering.
    with open_store(db_url, config, spool=tmp_path / "s.jsonl") as st:
        for i in range(5):
            st.append(ev(text=f"post {i}"))
        assert st.flush()
        with st.reader().write() as c:
            c.execute("UPDATE events SET review_status = 'reviewed'")
        st.audit("it.admin", "view", None, "test")
        assert st.verify() == (5, [])


def test_retention_purge_keeps_chain_verifiable(db_url: str, config_with: Any, tmp_path: Path) -> None:
    now = time.time()
    cfg = config_with(retention_days=30)
    with open_store(db_url, cfg, spool=tmp_path / "s.jsonl", auto_purge=False) as st:
        for age in (90, 60, 45, 20, 10, 1):
            st.append(ev(time=now - age * 86400, text=f"{age} days old"))
        assert st.flush()
        assert st.purge() == 3
        left = rows(st, "SELECT content FROM events ORDER BY seq")
        assert [r["content"] for r in left] == ["20 days old", "10 days old", "1 days old"]
        assert st.verify() == (3, [])
        assert st.purge() == 0  # nothing more to do
        st.append(ev(text="new"))
        assert st.flush()
        assert st.verify() == (4, [])
        # Deleting the oldest remaining event is still caught after a purge.
        with st.reader().write() as c:
            c.execute("DELETE FROM events WHERE id = (SELECT MIN(id) FROM events)")
        assert "deleted" in {x.kind for x in st.verify()[1]}


def test_purge_runs_automatically_on_open(db_url: str, config_with: Any, tmp_path: Path) -> None:
    cfg = config_with(retention_days=7)
    with open_store(db_url, cfg, spool=tmp_path / "s.jsonl", auto_purge=False) as st:
        st.append(ev(time=time.time() - 30 * 86400, text="old"))
        st.append(ev(text="recent"))
        assert st.flush()
    with open_store(db_url, cfg, spool=tmp_path / "s.jsonl") as st:
        assert [r["content"] for r in rows(st)] == ["recent"]
        assert rows(st, "SELECT action FROM audit WHERE actor = 'retention'") == [{"action": "purge"}]


def test_threads_append_concurrently(db_url: str, config: StoreConfig, tmp_path: Path) -> None:
    with open_store(db_url, config, spool=tmp_path / "s.jsonl") as st:
        def work(k: int) -> None:
            for i in range(50):
                st.append(ev(text=f"t{k} {i}"))
        threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert len(rows(st)) == 200
        assert st.verify() == (200, [])


WRITER = """
import sys
from checker import load_policy, redact
from store import open_store, Event, StoreConfig
policy = load_policy(None)
config = StoreConfig(policy.settings.content, policy.settings.retention_days, lambda text: redact(text, policy))
st = open_store(sys.argv[1], config, spool=sys.argv[3])
for i in range(int(sys.argv[2])):
    st.append(Event(source=sys.argv[4], action="logged", text=f"{sys.argv[4]} {i}", device="shared-pc"))
assert st.flush()
st.close()
"""


def test_processes_write_the_same_log(db_url: str, config: StoreConfig, tmp_path: Path) -> None:
    # The proxy and the extension backend on one computer: two processes, one device chain.
    procs = [subprocess.Popen([sys.executable, "-c", WRITER, db_url, "150", str(tmp_path / f"{s}.jsonl"), s])
             for s in ("proxy", "extension")]
    assert [p.wait(120) for p in procs] == [0, 0]
    with open_store(db_url, config, spool=tmp_path / "s.jsonl") as st:
        got = rows(st, "SELECT source, seq FROM events WHERE device = 'shared-pc' ORDER BY seq")
        assert [r["seq"] for r in got] == list(range(1, 301))
        assert {r["source"] for r in got} == {"proxy", "extension"}
        assert st.verify() == (300, [])


def closed_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()  # nothing listens there any more
    return port


def test_nothing_lost_when_database_down(pg_url: str, config: StoreConfig, tmp_path: Path) -> None:
    spool = tmp_path / "spool.jsonl"
    down = f"postgresql://postgres@127.0.0.1:{closed_port()}/test?connect_timeout=1"
    st = open_store(down, config, spool=spool)
    uids = [st.append(ev(text=f"while down {i}")) for i in range(5)]
    assert st.flush() is False  # still in the spool
    st.close()
    assert spool.stat().st_mode & 0o077 == 0  # owner-only
    spooled = [json.loads(x) for x in spool.read_text().splitlines()]
    assert [r["uid"] for r in spooled] == uids
    assert all("Tyler" not in json.dumps(r) for r in spooled)  # the spool is as minimal as the log
    with open_store(pg_url, config, spool=spool) as st:
        st.append(ev(text="after"))
        got = rows(st)
        assert [r["uid"] for r in got[:5]] == uids
        assert got[-1]["content"] == "after"
        assert st.verify() == (6, [])
    assert not spool.exists()


def test_migration_from_version_2_keeps_findings(db_url: str, config: StoreConfig, tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    # A log written before migration 3 (findings in event_findings) opens and filters as before.
    from store import db as dbmod
    from store.event import GENESIS, chain_hash, to_row
    from store.migrations import MIGRATIONS
    from store.writer import _EVENT_COLS

    monkeypatch.setattr(dbmod, "MIGRATIONS", MIGRATIONS[:2])
    conn = dbmod.Conn(db_url)
    assert dbmod.migrate(conn) == 2
    row = to_row(ev(device="old-pc"), mode="redacted", redact=lambda s: s.replace("Tyler Quinlan", "[STUDENT]"),
                  device="old-pc", employee="e")
    full = dict(row, seq=1, prev_hash=GENESIS)
    full["hash"] = chain_hash(full)
    with conn.write():
        conn.execute(f"INSERT INTO events ({', '.join(_EVENT_COLS)}) VALUES ({', '.join('?' * len(_EVENT_COLS))})",
                     [full[c] for c in _EVENT_COLS])
        eid = conn.scalar("SELECT id FROM events")
        conn.execute("INSERT INTO event_findings (event_id, rule, clause) VALUES (?, 'student-privacy', 'P5')", (eid,))
        conn.execute("INSERT INTO chain_heads (device, seq, hash) VALUES ('old-pc', 1, ?)", (full["hash"],))
    conn.close()
    monkeypatch.undo()
    with open_store(db_url, config, spool=tmp_path / "s.jsonl") as st:
        assert st.schema_version() == len(MIGRATIONS)
        from store import Filters

        for f in (Filters(rule="student-privacy"), Filters(clause="P5"), Filters(rule="student-privacy", clause="P5")):
            assert [r["uid"] for r in st.list_events(f)[0]] == [full["uid"]]
        assert st.list_events(Filters(rule="conduct"))[0] == []
        assert st.verify() == (1, [])


def test_settings_come_from_the_caller(tmp_path: Path) -> None:
    # No silent default policy: whoever opens the log says what it keeps and for how long.
    with pytest.raises(TypeError):
        open_store(str(tmp_path / "l.sqlite"))  # type: ignore[call-arg]
    with pytest.raises(ValueError, match="needs a redact function"):
        StoreConfig("redacted", 30)
    with pytest.raises(ValueError, match="content_mode"):
        StoreConfig("everything", 30, str.upper)
    with pytest.raises(ValueError, match="retention_days"):
        StoreConfig("full", -1)
    with open_store(str(tmp_path / "l.sqlite"), StoreConfig("full", 0)) as st:
        st.append(ev(justification="Tyler Quinlan's mom asked me to"))
        (r,) = rows(st)
    assert r["content"] == PRIVACY_TEXT and r["content_mode"] == "full"


def test_store_does_not_import_the_checker() -> None:
    code = "import sys, store; print(sorted(m for m in sys.modules if m.split('.')[0] == 'checker'))"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
