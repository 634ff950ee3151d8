"""`postguard replay CAPTURE.har`: the proxy's extraction and checks on a saved HAR file, nothing sent."""

from __future__ import annotations

import argparse
import base64
import binascii
import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

from checker import InputError, Policy
from checker.errors import NotAnImage
from enforce import (
    Channel,
    Inspection,
    decide,
    failed,
    findings_json,
    inspect_request,
    inspect_websocket,
)
from postguard.cli import UsageError
from postguard.commands._common import add_policy_arg, policy_from
from postguard.commands.check import read_bounded
from proxy_addon.extract import BodyError, posting_endpoint
from proxy_addon.extract.body import Req

MAX_HAR_BYTES = 512 * 1024 * 1024


def register(sub: argparse._SubParsersAction) -> None:
    """Add the `replay` parser."""
    p = sub.add_parser("replay", help="check every request of a HAR capture, nothing sent",
                       description=__doc__)
    p.add_argument("har", metavar="CAPTURE.har", help="HAR 1.2 file saved from a browser's developer tools")
    add_policy_arg(p)
    p.add_argument("--json", action="store_true", help="one JSON object per request (JSON Lines)")
    p.set_defaults(func=run)


def load_har(path: str) -> list[Any]:
    """The entries of a HAR file (UsageError, one line, for anything that is not a HAR)."""
    raw = read_bounded(path, MAX_HAR_BYTES, path, what="")
    try:
        doc = json.loads(raw.decode("utf-8-sig"))
    except UnicodeDecodeError as e:
        raise UsageError(f"{path}: not a HAR file (invalid UTF-8 at byte {e.start})") from None
    except json.JSONDecodeError as e:
        raise UsageError(f"{path}: not a HAR file (malformed JSON at line {e.lineno} column {e.colno})") from None
    except RecursionError:
        raise UsageError(f"{path}: not a HAR file (JSON nested too deeply)") from None
    entries = doc.get("log", {}).get("entries") if isinstance(doc, dict) and isinstance(doc.get("log"), dict) else None
    if not isinstance(entries, list):
        raise UsageError(f"{path}: not a HAR file (no log.entries list)")
    return entries


def request_of(entry: Any) -> tuple[str, str, dict[str, str], bytes]:
    """(method, url, headers, body bytes) of a HAR entry; ValueError when the entry is broken."""
    req = entry.get("request") if isinstance(entry, dict) else None
    if not isinstance(req, dict) or not isinstance(req.get("url"), str) or not isinstance(req.get("method"), str):
        raise ValueError("entry has no request method/url")
    headers: dict[str, str] = {}
    for h in req.get("headers") or []:
        if isinstance(h, dict) and isinstance(h.get("name"), str) and not h["name"].startswith(":"):
            headers.setdefault(h["name"].lower(), str(h.get("value", "")))
    post = req.get("postData") or {}
    if not isinstance(post, dict):
        raise ValueError("postData is not an object")
    if post.get("mimeType") and "content-type" not in headers:
        headers["content-type"] = str(post["mimeType"])
    text = post.get("text")
    if isinstance(text, str):
        if post.get("encoding") == "base64":
            try:
                body = base64.b64decode(text, validate=True)
            except binascii.Error:
                raise ValueError("postData.text is not valid base64") from None
        else:
            # Browsers save the body as text, already decompressed.
            headers.pop("content-encoding", None)
            body = text.encode("utf-8", "surrogatepass")
    elif isinstance(post.get("params"), list):
        headers.pop("content-encoding", None)
        headers["content-type"] = "application/x-www-form-urlencoded"
        body = urlencode([(str(p.get("name", "")), str(p.get("value", ""))) for p in post["params"]
                          if isinstance(p, dict)]).encode()
    else:
        body = b""
    return req["method"], req["url"], headers, body


def ws_sent(entry: Any) -> list[bytes]:
    """Client-to-server websocket messages Chrome saved with the entry (`_webSocketMessages`)."""
    out = []
    for m in entry.get("_webSocketMessages") or [] if isinstance(entry, dict) else []:
        if not isinstance(m, dict) or m.get("type") != "send" or not isinstance(m.get("data"), str):
            continue
        if m.get("opcode") == 2:  # binary frames are saved base64
            try:
                out.append(base64.b64decode(m["data"], validate=True))
            except binascii.Error:
                continue
        else:
            out.append(m["data"].encode("utf-8", "surrogatepass"))
    return out


def _row(row: dict[str, Any], found: Inspection, channel: Channel, policy: Policy) -> dict[str, Any]:
    """The replay row of an inspection, with what the proxy would do (`proxy_action`, `log_action`)."""
    s = policy.settings
    out = decide(found, channel, log_passed=False, fail_mode=s.fail_mode, posting_fail_mode=s.posting_fail_mode)
    sub, v = out.submission, out.verdict
    if sub is not None:
        row.update(site=sub.site, kind=sub.kind, texts=sub.texts, target=sub.target, spec=sub.spec)
        if sub.unreadable:
            row["unreadable"] = sub.unreadable
    if v is not None:
        row.update(account=v.account, fired=list(v.fired), findings=findings_json(v), action=v.action)
    if found.error:  # the body did not parse (its raw bytes were scanned) or the text is too long
        row["error"] = found.error
    row.update(proxy_action=out.proxy_action, log_action=out.log)
    return row


def _failed(row: dict[str, Any], e: Exception, policy: Policy, channel: Channel = "http",
            method: str = "POST") -> dict[str, Any]:
    s = policy.settings
    known = channel == "websocket" or (row.get("url") and posting_endpoint(method, row["url"]))
    mode = s.posting_fail_mode if known else s.fail_mode
    out = failed(str(e), mode, channel)
    row.update(error=str(e) if isinstance(e, BodyError | ValueError) else f"check: {e}",
               proxy_action=out.proxy_action, log_action=out.log)
    return row


def replay(entries: list[Any], policy: Policy) -> Iterator[dict[str, Any]]:
    """One result dict per HAR entry, in order (a websocket entry: one per message it sends)."""
    limit = policy.settings.max_body_bytes
    for i, entry in enumerate(entries):
        row: dict[str, Any] = {"index": i, "url": None, "site": None, "kind": None, "account": None,
                               "texts": [], "fired": [], "findings": []}
        try:
            method, url, headers, body = request_of(entry)
        except ValueError as e:
            row["error"] = str(e)
            yield row
            continue
        row["url"] = url
        row["site"] = Req(method, url, {}, b"").host or None
        sent = ws_sent(entry)
        if sent:
            rows = []
            for j, m in enumerate(sent):
                wrow = {**row, "ws_message": j}
                try:
                    found = inspect_websocket(url, m, policy)
                except (InputError, NotAnImage, ValueError) as e:
                    rows.append(_failed(wrow, e, policy, "websocket"))
                    continue
                if found.is_submission:
                    rows.append(_row(wrow, found, "websocket", policy))
            yield from rows or [row]
            continue
        try:
            found = inspect_request(method, url, headers, body, policy, max_bytes=limit)
        except (InputError, NotAnImage, ValueError) as e:  # BodyError included: the message says what is wrong
            yield _failed(row, e, policy, "http", method)
            continue
        yield _row(row, found, "http", policy) if found.is_submission else row


def render(row: dict[str, Any]) -> str:
    """One readable line (plus finding lines) for a replayed request."""
    head = f"#{row['index']} {row.get('site') or '-'}"
    if row.get("error") and not row.get("fired"):
        return f"{head}: error: {row['error']}"
    if row["kind"] is None:
        return f"{head}: not a submission"
    acct = f" [{row['account']}]" if row.get("account") else ""
    if row.get("unreadable"):
        return f"{head}: {row['kind']}{acct}: unreadable ({row['unreadable']})"
    if not row["fired"]:
        return f"{head}: {row['kind']}{acct}: clean"
    lines = [f"{head}: {row['kind']}{acct}: {row.get('action')}: {', '.join(row['fired'])}"]
    if row.get("error"):
        lines.append(f"    error: {row['error']}")
    for f in row["findings"]:
        lines.append(f"    - [{f.get('action')}] {f['rule']} ({f.get('clause')}): {f.get('reason', '')}")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    """Replay a HAR file; exit 0 when nothing fired, 1 when something did, 2 on bad input."""
    policy = policy_from(args)
    entries = load_har(args.har)
    fired = submissions = 0
    for row in replay(entries, policy):
        submissions += row["kind"] is not None
        fired += bool(row["fired"])
        if args.json:
            print(json.dumps(row, ensure_ascii=False), flush=False)
        else:
            print(render(row))
    if not args.json:
        print(f"{len(entries)} request(s), {submissions} submission(s), {fired} with findings")
    return 1 if fired else 0
