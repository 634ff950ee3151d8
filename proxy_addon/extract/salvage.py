"""When a body cannot be parsed: what it still says (text scanned from the raw bytes), and
whether the request went to a known posting endpoint (whose fail mode is its own).

A body that breaks our parser may still be taken by the site (its server is more lenient, or
the breakage is deliberate padding), so the error is not the end: the raw bytes, undone of
their Content-Encoding where that works, are scanned for the text a person wrote, which is
checked and kept (redacted) with the error event.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from urllib.parse import unquote_plus

from checker.links import registered_domain
from proxy_addon.extract.body import Req
from proxy_addon.extract.encoding import decode_body
from proxy_addon.extract.model import BodyError, Submission
from proxy_addon.extract.sites import site_specs
from proxy_addon.extract.sites.generic import MAX_COLLECT_CHARS, TEXT_KEYS, guess_kind, looks_human
from proxy_addon.extract.util import b64_text, inline_links

# "key": "value" pairs and bare string literals of JSON (escapes undone with json.loads).
# Literals start only at a quote that is not escaped (else '\"\"\"...' is tried from every quote).
_JSON_PAIR = re.compile(r'(?<!\\)"([A-Za-z_][\w]{0,40})"\s*:\s*"((?:[^"\\]|\\.){1,200000}+)"')
_JSON_STR = re.compile(r'(?<!\\)"((?:[^"\\]|\\.){2,200000}+)"')
# A form's key=value pairs, found anywhere (also inside junk).
_FORM_PAIR = re.compile(r"(?:^|[&;?\s])([\w.\-\[\]%]{1,80})=([^&\s]*)")
_SCAN_BYTES = 4 * 1024 * 1024  # of the raw body; beyond this the rest is not scanned
# Last resort, whatever the syntax around it (escaped twice, inside a huge string): runs of 3+
# words with light punctuation between them.
_WORD_RUN = re.compile(r"(?<![^\W\d_])[^\W\d_]++(?:[ ,.;:!?'\-]{1,3}+(?:[^\W\d_]++|\d++)){2,}+[.!?]?")


def posting_endpoint(method: str, url: str) -> str | None:
    """The name of the site spec whose domain, method and path match this request (a known
    posting endpoint), else None. Cheap (no body): the proxy asks it when a check fails."""
    try:
        req = Req(method, url, {}, b"")
    except BodyError:
        return None
    rd = registered_domain(req.host)
    for s in site_specs():
        if (not s.domains or rd in s.domains) and req.method in s.methods and s.path.search(req.path):
            return s.name
    return None


def _unescape(lit: str) -> str:
    try:
        out = json.loads(f'"{lit}"')
    except ValueError:
        return lit
    return out if isinstance(out, str) else lit


def _candidates(text: str) -> list[tuple[str, bool]]:
    """(string, under a text key) found in a text that may be JSON, a form, or neither."""
    out: list[tuple[str, bool]] = []
    keyed: set[str] = set()
    for k, v in _JSON_PAIR.findall(text):
        s = _unescape(v)
        keyed.add(s)
        out.append((s, k.lower() in TEXT_KEYS))
    for lit in _JSON_STR.findall(text):
        s = _unescape(lit)
        if s not in keyed:
            out.append((s, False))
    if "=" in text:
        for k, v in _FORM_PAIR.findall(text):
            val = unquote_plus(v, errors="replace")
            key = unquote_plus(k, errors="replace").lower().split("[")[0]
            out.append((val, key in TEXT_KEYS))
            if val[:1] in ("{", "[", '"') or '\\"' in val:  # a form field holding JSON
                out += _candidates(val)
    # Lines as they are (a multipart value, a plain-text body, text between broken syntax).
    for line in re.split(r"\r?\n", text)[:10_000]:
        if line.strip() and len(line) <= 200_000:
            out.append((line, False))
    for i, m in enumerate(_WORD_RUN.finditer(text)):
        if i >= 10_000:
            break
        out.append((m.group(), False))
    if not out:
        out.append((text, False))
    return out


def scan_text(raw: bytes) -> list[str]:
    """Human text found in bytes that did not parse: JSON strings, form values, base64 of
    either, plain text; each once, in order, bounded."""
    head = raw[:_SCAN_BYTES]
    text = head.decode("utf-8", "replace").replace("\x00", " ")
    found: list[str] = []
    seen: set[str] = set()
    total = 0
    queue = _candidates(text)
    depth = 0
    while queue and total <= MAX_COLLECT_CHARS:
        s, text_key = queue.pop(0)
        t = s.strip()
        if not t or t in seen:
            continue
        if depth < 200 and (decoded := b64_text(t)) is not None:
            depth += 1
            queue[:0] = _candidates(decoded)
            continue
        if looks_human(t, text_key) or (len(t) >= 3 and looks_human(t, text_key=False)):
            # Nested JSON that did not parse as a whole: its own strings, not its syntax.
            if t[:1] in ("{", "[") and '"' in t and depth < 200:
                depth += 1
                inner = [c for c in _candidates(t) if c[0].strip() != t]
                if inner:
                    queue[:0] = inner
                    continue
            seen.add(t)
            found.append(t)
            total += len(t)
    return found


def salvage(method: str, url: str, headers: Mapping[str, str], body: bytes, error: str, *,
            max_bytes: int) -> Submission:
    """A submission for a request whose body could not be read: the text scanned from its raw
    bytes, the parse error, and the posting endpoint it went to (if a spec knows it)."""
    try:
        req = Req(method, url, dict(headers), b"")
        host, path = req.host, req.path
    except BodyError:
        host, path = "", "/"
    try:
        data = decode_body(body, dict((k.lower(), v) for k, v in headers.items()).get("content-encoding"),
                           max_bytes)
    except BodyError:
        data = body  # an unknown or broken encoding: scan the bytes as they came
    texts = scan_text(data)
    endpoint = posting_endpoint(method, url)
    return Submission(site=host, kind=guess_kind(path), texts=texts, links=inline_links(texts)[:100],
                      images=[], target=None, spec=endpoint or "raw-scan", error=error,
                      endpoint=endpoint)
