"""Helpers the site specs share: unwrapping nested bodies, walking JSON, building submissions."""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterable, Iterator
from typing import Any
from urllib.parse import unquote, unquote_plus

from checker.links import find_urls
from proxy_addon.extract.body import Req
from proxy_addon.extract.model import BodyError, Submission
from proxy_addon.extract.parse import parse_json


def maybe_json(value: Any, where: str = "field") -> Any:
    """A string holding JSON (an object or array) parsed, anything else as is."""
    if isinstance(value, str):
        s = value.strip()
        if s[:1] in ("{", "[") and s[-1:] in ("}", "]"):
            return parse_json(s, where)
    return value


_B64 = re.compile(r"[A-Za-z0-9+/\-_]{24,}={0,2}")


def b64_text(value: str) -> str | None:
    """The UTF-8 text a base64 string (24+ characters) stands for, when it decodes to readable
    text (JSON or words), else None: posts hidden in base64 bodies and fields are read too. A
    little junk after the base64 (padding) and a few bad bytes inside are tolerated."""
    s = value.strip()
    if len(s) > 4 * 1024 * 1024:
        return None
    m = _B64.match(s)
    if m is None or len(s) - m.end() > 64:
        return None
    raw = b64_decode(m.group())
    if not raw:
        return None
    text = raw.decode("utf-8", "replace")
    bad = text.count("\ufffd")
    printable = sum(c.isprintable() or c in "\n\r\t" for c in text)
    ok = text.strip() and bad <= max(2, len(text) // 100) and printable >= 0.95 * len(text)
    return text if ok else None


def unsign(value: str) -> Any:
    """Instagram's `signed_body=SIG.{json}` (the signature may be a hex hash or SIGNATURE)."""
    m = re.match(r"^([^.{\[]*)\.(\{.*\}|\[.*\])\s*$", value, re.S)
    if not m:
        raise BodyError("signed_body: not SIGNATURE.{json}")
    return parse_json(m.group(2), "signed_body")


def dig(obj: Any, *path: str | int) -> Any:
    """obj[path[0]][path[1]]... unwrapping JSON strings on the way; None when absent."""
    cur = obj
    for key in path:
        cur = maybe_json(cur)
        if isinstance(key, int):
            if not isinstance(cur, list) or not -len(cur) <= key < len(cur):
                return None
            cur = cur[key]
        else:
            if not isinstance(cur, dict) or key not in cur:
                return None
            cur = cur[key]
    return cur


MAX_NODES = 1_000_000  # values in one body; a body with more is unreadable (BodyError)


def walk(obj: Any, path: tuple[str, ...] = (), depth: int = 0) -> Iterator[tuple[tuple[str, ...], Any]]:
    """(key path, leaf) for every scalar in a JSON value, descending into JSON-in-strings, in
    document order, at any depth (no recursion: 100,000-deep nesting is walked too). The key
    path holds the last few keys only (enough to tell a text key); () for a top-level scalar."""
    stack: list[tuple[Any, tuple[str, ...]]] = [(obj, path[-4:])]
    seen = 0
    while stack:
        cur, keys = stack.pop()
        seen += 1
        if seen > MAX_NODES:
            raise BodyError(f"more than {MAX_NODES:,} values in one body")
        if isinstance(cur, str):
            try:
                inner = maybe_json(cur)
            except BodyError:
                inner = cur
            if inner is not cur:
                stack.append((inner, keys))
                continue
            yield keys, cur
        elif isinstance(cur, dict):
            stack.extend((v, (*keys[-3:], str(k))) for k, v in reversed(list(cur.items())))
        elif isinstance(cur, list):
            stack.extend((v, keys) for v in reversed(cur))
        else:
            yield keys, cur


def strs(*values: Any) -> list[str]:
    """The non-empty strings among `values` (lists flattened), stripped."""
    out: list[str] = []
    for v in values:
        if isinstance(v, list | tuple):
            out.extend(strs(*v))
        elif isinstance(v, str) and v.strip():
            out.append(v.strip())
    return out


def first(*values: Any) -> str | None:
    """The first value that is a non-empty string or a number, as a string."""
    for v in values:
        if isinstance(v, bool) or v is None:
            continue
        if isinstance(v, int | float):
            return str(v)
        if isinstance(v, str) and v.strip() and v.strip().lower() not in ("null", "none", "0"):
            return v.strip()
    return None


def inline_links(texts: Iterable[str]) -> list[str]:
    """URLs written in the texts."""
    return [u for t in texts for _, u in find_urls(t)]


def make(req: Req, spec: str, kind: str | None, texts: Iterable[Any] = (), links: Iterable[Any] = (),
         target: Any = None, images: list[tuple[str, bytes]] | None = None, **extra: Any) -> Submission:
    """A Submission with cleaned texts, links attached + inline (deduplicated) and multipart images."""
    t = strs(*texts)
    seen: set[str] = set()
    ls = []
    for u in [*strs(*links), *inline_links(t)]:
        key = re.sub(r"^(?:https?://)?(?:www\.)?", "", u.lower()).rstrip("/")
        if key not in seen:
            seen.add(key)
            ls.append(u)
    imgs = images if images is not None else (req.images() if kind else [])
    return Submission(site=req.host, kind=kind, texts=t, links=ls, images=imgs,
                      target=first(target), spec=spec, **extra)


def not_submission(req: Req, spec: str) -> Submission:
    """A decided 'this request publishes nothing' (a like, a read, telemetry)."""
    return Submission(site=req.host, kind=None, texts=[], links=[], images=[], target=None, spec=spec)


def unreadable(req: Req, spec: str, kind: str, reason: str, target: Any = None) -> Submission:
    """A submission whose content cannot be read (encrypted, binary): logged, never guessed."""
    return Submission(site=req.host, kind=kind, texts=[], links=[], images=[], target=first(target),
                      spec=spec, unreadable=reason)


def b64_decode(value: str) -> bytes | None:
    """Standard or URL-safe base64 (percent-encoding and missing padding tolerated)."""
    s = unquote(value).strip()
    s += "=" * (-len(s) % 4)
    for fn in (base64.b64decode, base64.urlsafe_b64decode):
        try:
            return fn(s)
        except (ValueError, TypeError):
            continue
    return None


def pb_fields(data: bytes, depth: int = 0) -> Iterator[tuple[int, int, Any]]:
    """Schemaless protobuf walk: (field number, wire type, value) of well-formed fields only."""
    i, n = 0, len(data)

    def varint() -> int:
        nonlocal i
        shift = result = 0
        while True:
            if i >= n or shift > 63:
                raise ValueError("varint")
            b = data[i]
            i += 1
            result |= (b & 0x7F) << shift
            if not b & 0x80:
                return result
            shift += 7

    while i < n:
        try:
            key = varint()
            fno, wt = key >> 3, key & 7
            if fno == 0:
                return
            if wt == 0:
                yield fno, wt, varint()
            elif wt == 1:
                i += 8
                yield fno, wt, data[i - 8:i]
            elif wt == 5:
                i += 4
                yield fno, wt, data[i - 4:i]
            elif wt == 2:
                ln = varint()
                if i + ln > n:
                    return
                i += ln
                yield fno, wt, data[i - ln:i]
            else:
                return
        except ValueError:
            return


def pb_strings(data: bytes, depth: int = 0) -> Iterator[str]:
    """Every UTF-8 string in a protobuf message, nested messages included (best effort)."""
    if depth > 12:
        return
    for _, wt, v in pb_fields(data):
        if wt != 2:
            continue
        try:
            s = v.decode("utf-8")
        except UnicodeDecodeError:
            s = None
        if s is not None and s.isprintable() and s:
            yield s
        # a length-delimited field may also be a nested message
        yield from pb_strings(v, depth + 1)


def form_value(s: str) -> str:
    """Undo one more level of form encoding some clients apply twice."""
    return unquote_plus(s) if re.search(r"%[0-9A-Fa-f]{2}", s) else s


def dumps(obj: Any) -> str:
    """Compact JSON (for building test bodies and settings)."""
    return json.dumps(obj, separators=(",", ":"))
