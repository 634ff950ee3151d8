"""Signed checkpoints: a chain rewritten by someone with database access (an edited row, every later
hash recomputed) passes the plain verify but fails `logs verify --checkpoint` against an earlier export."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from server_helpers import chain, cli, cli_json

from server.app import _checkpoint_due, make_checkpoint
from store.event import chain_hash


def rewrite(server: Any, device: str, seq: int, content: str) -> None:
    """What an insider with the database password can do: edit one event and re-hash the chain after it."""
    c = server.conn()
    try:
        with c.write():
            rows = c.all("SELECT * FROM events WHERE device = ? AND seq >= ? ORDER BY seq", (device, seq))
            prev = c.scalar("SELECT hash FROM events WHERE device = ? AND seq = ?", (device, seq - 1))
            for r in rows:
                if r["seq"] == seq:
                    r["content"] = content
                r["prev_hash"] = prev
                r["hash"] = chain_hash(r)
                prev = r["hash"]
                c.execute("UPDATE events SET content = ?, prev_hash = ?, hash = ? WHERE id = ?",
                          (r["content"], r["prev_hash"], r["hash"], r["id"]))
            c.execute("UPDATE chain_heads SET hash = ? WHERE device = ?", (prev, device))
    finally:
        c.close()


async def test_rewrite_fails_verify_against_an_earlier_checkpoint(device: Any, server: Any, capsys: Any,
                                                                  tmp_path: Any) -> None:
    d = await device()
    await d.send_events(chain(d.device, 10))
    out = tmp_path / "offline" / "checkpoint.json"
    out.parent.mkdir()
    rc, _, err = cli(capsys, "logs", "checkpoint", "--db", server.cfg.db, "--signing-key",
                     str(server.cfg.signing_key), "-o", str(out))
    assert rc == 0 and "written to" in err
    pub = f"{server.cfg.signing_key}.pub"
    rc, got = cli_json(capsys, "logs", "verify", "--db", server.cfg.db, "--checkpoint", str(out), "--trusted-key", pub)
    assert rc == 0 and got["ok"] and got["checkpoint"]["heads_checked"] == got["checkpoint"]["heads"] >= 1
    rewrite(server, d.device, 4, "nothing to see here")
    rc, out_plain, _ = cli(capsys, "logs", "verify", "--db", server.cfg.db)
    assert rc == 0  # the rewrite is consistent: the chain alone cannot tell
    rc, got = cli_json(capsys, "logs", "verify", "--db", server.cfg.db, "--checkpoint", str(out), "--trusted-key", pub)
    assert rc == 1 and not got["ok"]
    assert [(p["device"], p["seq"], p["kind"]) for p in got["problems"]] == [(d.device, 10, "edited")]
    rc, text, _ = cli(capsys, "logs", "verify", "--db", server.cfg.db, "--checkpoint", str(out))
    assert rc == 1 and "TAMPERING DETECTED" in text and "checkpoint" in text


async def test_a_forged_checkpoint_file_is_refused(device: Any, server: Any, capsys: Any, tmp_path: Any) -> None:
    d = await device()
    await d.send_events(chain(d.device, 3))
    cp = await make_checkpoint(server.app, "test")
    path = tmp_path / "cp.json"
    path.write_text(json.dumps(cp))
    rc, _ = cli_json(capsys, "logs", "verify", "--db", server.cfg.db, "--checkpoint", str(path))
    assert rc == 0
    cp["payload"]["heads"][0]["hash"] = "0" * 64  # re-pointed at a rewritten chain: the signature breaks
    path.write_text(json.dumps(cp))
    rc, out, err = cli(capsys, "logs", "verify", "--db", server.cfg.db, "--checkpoint", str(path))
    assert rc == 2 and "signature does not match" in err
    other = tmp_path / "other.pub"
    other.write_text("A" * 43 + "=\n")
    path.write_text(json.dumps(await make_checkpoint(server.app, "test")))
    rc, out, err = cli(capsys, "logs", "verify", "--db", server.cfg.db, "--checkpoint", str(path),
                       "--trusted-key", str(other))
    assert rc == 2 and "not the trusted key" in err


async def test_checkpoints_are_append_only_and_made_when_due(device: Any, server: Any, capsys: Any,
                                                             tmp_path: Any) -> None:
    for _ in range(100):  # the server signs its first checkpoint as it starts, in the background
        if first := server.query("SELECT id, reason FROM checkpoints"):
            break
        await asyncio.sleep(0.05)
    assert [r["reason"] for r in first] == ["first"]  # signed when the server started
    await _checkpoint_due(server.app)  # not due again yet
    assert len(server.query("SELECT id FROM checkpoints")) == 1
    c = server.conn()
    try:
        for sql in ("UPDATE checkpoints SET payload = 'x'", "DELETE FROM checkpoints"):
            try:
                c.execute(sql)
            except Exception as e:
                assert "append-only" in str(e)
            else:
                raise AssertionError(f"{sql} was allowed")
    finally:
        c.close()
    rc, _, err = cli(capsys, "logs", "checkpoint", "--db", server.cfg.db, "--latest", "-o", str(tmp_path / "l.json"))
    assert rc == 0 and json.loads((tmp_path / "l.json").read_text())["id"] == first[0]["id"]
    rc, _, err = cli(capsys, "logs", "checkpoint", "--db", server.cfg.db, "--signing-key", str(tmp_path / "none.key"))
    assert rc == 2 and "creates its signing key" in err


async def test_checkpoint_folder_gets_each_signed_checkpoint(server_config: Any, aiohttp_server: Any,
                                                             tmp_path: Any, capsys: Any) -> None:
    from dataclasses import replace

    from server import create_app

    folder = tmp_path / "archive"
    app = create_app(replace(server_config, checkpoint_dir=folder))
    await aiohttp_server(app)
    cp = await make_checkpoint(app, "on demand")
    path = folder / f"checkpoint-{cp['id']}.json"
    assert json.loads(path.read_text())["signature"] == cp["signature"]
    rc, got = cli_json(capsys, "logs", "verify", "--db", server_config.db, "--checkpoint", str(path))
    assert rc == 0 and got["checkpoint"]["key_id"] == cp["payload"]["key_id"]
