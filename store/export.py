"""Exporting events as CSV or JSON, the one format `postguard logs export` and the console share."""

from __future__ import annotations

import csv
import json
import tempfile
from collections.abc import Iterable, Iterator
from typing import IO, Any

from store.db import Conn
from store.query import Filters

FORMATS = ("csv", "json")
EXPORT_COLS = ("uid", "ts", "device", "employee", "source", "site", "url", "account", "target", "kind",
               "action", "rules", "findings", "justification", "content_mode", "content", "content_hash",
               "policy_digest", "error", "request_id", "review_status", "seq", "hash", "incident", "staff",
               "staff_source")


def iter_events(conn: Conn, f: Filters, chunk: int = 2000) -> Iterator[dict[str, Any]]:
    """Every matching event, oldest first, for export (read in chunks)."""
    src, where, params, (ts, eid) = f.sql_parts()
    last: tuple[str, int] = ("", 0)
    cols = ", ".join(f"e.{c}" for c in ("id", *EXPORT_COLS))
    while True:
        rows = conn.all(f"SELECT {cols} FROM {src} WHERE {where} AND {ts} >= ? AND ({ts} > ? OR {eid} > ?) "
                        f"ORDER BY {ts}, {eid} LIMIT {chunk}", [*params, last[0], last[0], last[1]])
        if not rows:
            return
        yield from rows
        last = (rows[-1]["ts"], rows[-1]["id"])


def export_row(r: dict[str, Any]) -> dict[str, Any]:
    """An event as exported (findings decoded for JSON)."""
    d = {k: r.get(k) for k in EXPORT_COLS}
    d["findings"] = json.loads(r["findings"]) if isinstance(r.get("findings"), str) else r.get("findings")
    return d


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\n", "\uff1d", "\uff0b", "\uff0d", "\uff20")


def csv_cell(value: Any) -> Any:
    """A value safe to open in a spreadsheet: text that would start a formula (=HYPERLINK(...),
    +, -, @, a tab...) gets a leading apostrophe, which Excel and LibreOffice show as text."""
    if isinstance(value, str) and value.lstrip(" ").startswith(_FORMULA_START):
        return "'" + value
    return value


def write_export(rows: Iterable[dict[str, Any]], fmt: str, out: IO[str]) -> int:
    """Write events as CSV (findings as JSON text, no cell a spreadsheet formula) or a JSON array;
    return how many."""
    n = 0
    if fmt == "csv":
        w = csv.DictWriter(out, fieldnames=list(EXPORT_COLS))
        w.writeheader()
        for r in rows:
            d = export_row(r)
            d["findings"] = json.dumps(d["findings"], ensure_ascii=False)
            w.writerow({k: csv_cell(v) for k, v in d.items()})
            n += 1
    else:
        out.write("[")
        for r in rows:
            out.write(("," if n else "") + "\n" + json.dumps(export_row(r), ensure_ascii=False))
            n += 1
        out.write("\n]\n")
    return n


def export_to_tempfile(db: str, f: Filters, fmt: str) -> tuple[IO[str], int]:
    """The export in a temporary file (in memory up to 8 MB), rewound, and how many events it holds.
    It reads on its own connection, so it runs start to end in one worker thread."""
    out = tempfile.SpooledTemporaryFile(max_size=8 << 20, mode="w+", encoding="utf-8", newline="")
    conn = Conn(db)
    try:
        n = write_export(iter_events(conn, f), fmt, out)
    finally:
        conn.close()
    out.seek(0)
    return out, n
