"""The staff member on every event: validated, stored on both backends, chained when set (older rows
verify unchanged), taken from the event or else the device's assigned user, carried to incidents."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from store import Event, StoreConfig, open_store
from store.chain import verify
from store.event import CHAIN_FIELDS, GENESIS, chain_hash, check_staff, to_row
from store.ingest import BadRows, check_rows

# Every name here is fictional.
ENROLLED = "r.fictional@ctreg14.org"
PROFILE = "j.doe.fictional@ctreg14.org"


def ev(**kw: Any) -> Event:
    base: dict[str, Any] = dict(source="extension", action="warned", site="www.facebook.com", kind="post",
                                text="see you at the game", findings=[{"rule": "conduct", "clause": "P9"}],
                                policy_digest="d1", device="laptop-7")
    base.update(kw)
    return Event(**base)


def all_rows(st: Any) -> list[dict[str, Any]]:
    assert st.flush()
    return st.read(lambda c: c.all("SELECT * FROM events ORDER BY id"))


@pytest.mark.parametrize("staff", [PROFILE, "REGION14\\j.fictional", "o'brien.fictional", "jdoe", "Zoë Fictional",
                                   "a" * 254])
def test_good_staff_values(staff: str) -> None:
    assert check_staff(staff, "os-user") == (staff, "os-user")


@pytest.mark.parametrize(("staff", "source", "words"), [
    ("", "os-user", "non-empty"), (5, "os-user", "non-empty"), ("a" * 255, "os-user", "longer than 254"),
    ("<script>", "os-user", "letters, digits"), ("j doe\n", "os-user", "letters, digits"),
    (" jdoe", "os-user", "letters, digits"), ('j"doe', "os-user", "letters, digits"),
    ("jdoe", None, "staff_source"), ("jdoe", "root", "staff_source"), (None, "os-user", "non-empty"),
])
def test_bad_staff_values_are_refused_without_the_value(staff: Any, source: Any, words: str) -> None:
    with pytest.raises(ValueError) as e:
        check_staff(staff, source)
    assert words in str(e.value)
    assert not (isinstance(staff, str) and len(staff) > 2 and staff.strip() in str(e.value))


def test_a_row_without_staff_hashes_as_before() -> None:
    # The canonical form before the staff fields: the chained fields alone, in order.
    r = to_row(ev(), mode="full", redact=None, device="laptop-7", employee=None)
    r.update(seq=1, prev_hash=GENESIS)
    legacy = hashlib.sha256(json.dumps([r.get(k) for k in CHAIN_FIELDS], ensure_ascii=False,
                                       separators=(",", ":")).encode()).hexdigest()
    assert r["staff"] is None and r["staff_source"] is None
    assert chain_hash(r) == legacy
    with_staff = dict(r, staff=ENROLLED, staff_source="enrolment")
    assert chain_hash(with_staff) != legacy  # the staff member is evidence: changing it shows
    assert chain_hash(dict(with_staff, staff_source="os-user")) != chain_hash(with_staff)


def test_event_staff_wins_over_the_enrolled_user(db_url: str, config: StoreConfig, tmp_path: Path) -> None:
    with open_store(db_url, config, spool=tmp_path / "s.jsonl", staff=ENROLLED) as st:
        st.append(ev(staff=PROFILE, staff_source="browser-profile"))
        st.append(ev(source="proxy", staff="jdoe", staff_source="os-user"))
        st.append(ev(source="proxy"))
        got = [(r["staff"], r["staff_source"]) for r in all_rows(st)]
        assert got == [(PROFILE, "browser-profile"), ("jdoe", "os-user"), (ENROLLED, "enrolment")]
        assert st.read(verify) == (3, [])


def test_no_staff_anywhere_leaves_both_empty(db_url: str, config: StoreConfig, tmp_path: Path) -> None:
    with open_store(db_url, config, spool=tmp_path / "s.jsonl") as st:
        st.append(ev())
        (r,) = all_rows(st)
        assert (r["staff"], r["staff_source"]) == (None, None)
        assert st.read(verify) == (1, [])


def test_an_event_with_bad_staff_is_not_written(db_url: str, config: StoreConfig, tmp_path: Path) -> None:
    with open_store(db_url, config, spool=tmp_path / "s.jsonl") as st:
        st.append(ev(staff="<b>x</b>", staff_source="browser-profile"))
        st.append(ev(staff=PROFILE, staff_source="browser-profile"))
        assert [r["staff"] for r in all_rows(st)] == [PROFILE]


def test_an_edited_staff_member_breaks_verify(db_url: str, config: StoreConfig, tmp_path: Path) -> None:
    with open_store(db_url, config, spool=tmp_path / "s.jsonl", staff=ENROLLED) as st:
        st.append(ev())
        st.append(ev())
        assert st.flush()
        st.write(lambda c: c.execute("UPDATE events SET staff = 'someone.else' WHERE seq = 1"))
        n, problems = st.read(verify)
        assert n == 2 and [(p.seq, p.kind) for p in problems] == [(1, "edited")]
        st.write(lambda c: c.execute("UPDATE events SET staff = NULL, staff_source = NULL WHERE seq = 2"))
        assert [(p.seq, p.kind) for p in st.read(verify)[1]] == [(1, "edited"), (2, "edited")]


def test_rows_from_before_migration_10_verify_after_it(db_url: str, config: StoreConfig, tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    from store import db as dbmod
    from store.migrations import MIGRATIONS
    from store.writer import _EVENT_COLS

    monkeypatch.setattr(dbmod, "MIGRATIONS", [m for m in MIGRATIONS if m[0] < 10])
    conn = dbmod.Conn(db_url)
    try:
        assert dbmod.migrate(conn) == 9
        old = to_row(ev(), mode="full", redact=None, device="laptop-7", employee="e")
        old.update(seq=1, prev_hash=GENESIS)
        old["hash"] = chain_hash(old)
        with conn.write():  # exactly the columns a writer of version 9 inserted
            conn.execute(f"INSERT INTO events ({', '.join(_EVENT_COLS)}) VALUES ({', '.join('?' * len(_EVENT_COLS))})",
                         [old[c] for c in _EVENT_COLS])
            conn.execute("INSERT INTO chain_heads (device, seq, hash) VALUES ('laptop-7', 1, ?)", (old["hash"],))
    finally:
        conn.close()
    monkeypatch.undo()
    with open_store(db_url, config, spool=tmp_path / "s.jsonl", staff=ENROLLED) as st:
        st.append(ev())
        rows = all_rows(st)
        assert [(r["seq"], r["staff"]) for r in rows] == [(1, None), (2, ENROLLED)]
        assert st.read(verify) == (2, [])


def test_incident_staff_prefers_the_browser_profile(db_url: str, config: StoreConfig, tmp_path: Path) -> None:
    with open_store(db_url, config, spool=tmp_path / "s.jsonl", staff=ENROLLED) as st:
        st.append(ev(source="proxy", time=1_800_000_000.0))
        st.append(ev(staff=PROFILE, staff_source="browser-profile", time=1_800_000_001.0))
        st.append(ev(source="proxy", staff="jdoe", staff_source="os-user", time=1_800_000_002.0))
        assert st.flush()
        got = st.read(lambda c: c.all("SELECT staff, staff_source, events FROM incidents"))
    assert got == [{"staff": PROFILE, "staff_source": "browser-profile", "events": 3}]


def upload_row(**kw: Any) -> dict[str, Any]:
    r = to_row(ev(**kw), mode="full", redact=None, device="laptop-7", employee=None)
    r.update(seq=1, prev_hash=GENESIS)
    r["hash"] = chain_hash(r)
    return r


def test_ingest_checks_staff_when_present() -> None:
    good = upload_row(staff=PROFILE, staff_source="browser-profile")
    assert check_rows([good], "laptop-7") == [good]
    older = {k: v for k, v in upload_row().items() if k not in ("staff", "staff_source")}  # an older agent
    assert check_rows([older], "laptop-7") == [older]
    for bad, words in (({**good, "staff": "x" * 300}, "longer than"), ({**good, "staff": "a;b"}, "letters"),
                       ({**good, "staff_source": "self"}, "staff_source"), ({**good, "staff": None}, "non-empty")):
        with pytest.raises(BadRows) as e:
            check_rows([bad], "laptop-7")
        assert words in str(e.value) and str(e.value).startswith("events[0].staff")
        assert PROFILE not in str(e.value)


def test_an_at_uri_target_is_stored_not_dropped() -> None:
    # Bluesky's reply targets ("at://did:plc:…") have a netloc whose "port" is not a number: the
    # event was dropped (ValueError in scrub_url) before; found by the live proxy staff test.
    r = to_row(ev(source="proxy", target="at://did:plc:zzzz/app.bsky.feed.post/3kroot"), mode="redacted",
               redact=lambda s: s, device="laptop-7", employee=None)
    assert r["target"] == "at://did:plc:zzzz/app.bsky.feed.post/3kroot"


def test_under_the_agent_the_service_account_is_not_the_employee(tmp_path: Path, config: StoreConfig,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("POSTGUARD_EMPLOYEE", raising=False)
    monkeypatch.setenv("POSTGUARD_AGENT_QUEUE", "1")  # what `agent run` sets for its proxy and backend
    with open_store(str(tmp_path / "q.sqlite"), config, staff=ENROLLED) as st:
        st.append(ev())
        (r,) = all_rows(st)
    assert (r["employee"], r["staff"], r["staff_source"]) == (None, ENROLLED, "enrolment")
    monkeypatch.delenv("POSTGUARD_AGENT_QUEUE")
    with open_store(str(tmp_path / "log.sqlite"), config) as st:  # a one-machine trial: the OS user, as before
        st.append(ev())
        (r,) = all_rows(st)
    assert r["employee"]
