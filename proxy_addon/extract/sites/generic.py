"""The generic extractor: human-written text in JSON, form and multipart bodies of social hosts.

Sites redeploy constantly, so a request no spec covers still gets checked: text under
text-like keys, or anything that reads like a sentence, is taken; tokens, ids, base64,
hashes, URLs on their own and telemetry are skipped; searches, likes, reads and logging
endpoints publish nothing.
"""

from __future__ import annotations

import re
from typing import Any

from proxy_addon.extract.body import Req
from proxy_addon.extract.model import BodyError, Submission
from proxy_addon.extract.parse import parse_form
from proxy_addon.extract.util import b64_text, make, maybe_json, walk

# Path words of requests that publish nothing (checked on the lower-cased path and query keys).
NOT_POST = re.compile(
    r"(?:^|[/_.\-])(?:search|typeahead|autocomplete|suggest(?:ions)?|like[sd]?|unlike|react(?:ion)?s?|"
    r"vote|upvote|downvote|favou?rites?|favorite|bookmark|save[sd]?|follow|unfollow|subscribe|"
    r"logs?|logging|logger|analytics|telemetry|metrics?|beacon|track(?:ing)?|collect|ping|"
    r"bz|falco|csp[_-]?report|reports?|errors?|impressions?|views?|seen|read|mark_?read|"
    r"presence|heartbeat|typing|events?|pixel|stats|perf|rum|health|qoe|ads?|sentry|"
    r"consent|notifications?|badge|login|logout|session|token|refresh|config|experiments?)"
    r"(?:$|[/_.\-?])", re.I)

# Keys whose string values are what a person typed.
TEXT_KEYS = frozenset("""
text message body content status caption comment comment_text commenttext description title
commentary tweet_text note post subject question answer answers options option alt_text
spoiler_text headline summary bio about reply message_text body_text richtext markdown
selftext story draft
""".split())

# Keys whose values are never human text, whatever they look like.
SKIP_KEY = re.compile(
    r"(?:token|csrf|dtsg|lsd|jazoest|signature|^sig$|hash|nonce|session|cursor|secret|passw|auth|"
    r"cookie|uuid|guid|device|user_?agent|^ua$|referr?er|url|uri|href|^link|^src$|locale|lang|"
    r"timezone|^tz$|client|version|platform|build|trace|tracking|attribution|logging|^__|"
    r"^id$|_id$|Id$|ids$|^key$|_key$|type$|mode$|state$|source|surface|location|format|"
    r"encoding|captcha|recaptcha|fingerprint|checksum|etag|mime|color|font|style|class)",
    re.I)

_URL_ONLY = re.compile(r"^\s*(?:(?:https?://|www\.)\S+\s*)+$", re.I)
_TOKENISH = re.compile(r"^[A-Za-z0-9+/=_\-.:%~]+$")
_WORD = re.compile(r"[^\W\d_]{2,}", re.U)


def is_tokenish(s: str) -> bool:
    """A string with no spaces that looks machine-made: ids, base64, hashes, enum names, urns."""
    t = s.strip()
    if not t or " " in t:
        return False
    if t.isdigit() or re.fullmatch(r"[0-9a-fA-F\-]{8,}", t):  # numbers, hex, uuids
        return True
    if re.fullmatch(r"\d{4}-\d\d-\d\d[T ][\d:.]+Z?", t):  # timestamps
        return True
    if t.startswith(("urn:", "did:", "at://", "t1_", "t3_", "t4_")):
        return True
    if _TOKENISH.fullmatch(t):
        letters = sum(c.isalpha() for c in t)
        digits = sum(c.isdigit() for c in t)
        if len(t) >= 16:
            return True  # base64, tokens, long identifiers
        if digits and letters:
            return True
        if "_" in t or re.search(r"[a-z][A-Z]", t) or (t.isupper() and len(t) > 3):
            return True  # snake_case, camelCase, ENUM_VALUES
    return False


def looks_human(s: str, text_key: bool) -> bool:
    """Whether a value reads as something a person wrote (stricter away from text keys)."""
    t = s.strip()
    if not t or _URL_ONLY.match(t) or is_tokenish(t):
        return False
    if not _WORD.search(t):
        return False
    if text_key:
        return True
    words = t.split()
    if len(words) < 3:
        return False
    # Telemetry and user-agent strings: many slashes, semicolons, = and braces per word.
    machine = sum(t.count(c) for c in "/;=<>{}|\\")
    if machine > len(words) or "Mozilla/" in t or "AppleWebKit" in t:
        return False
    wordish = sum(1 for w in words if _WORD.search(w) and not is_tokenish(w))
    return wordish / len(words) >= 0.6


# How much text one body yields at most: past the checker's limit already, so a body with more is
# an error (the fail mode decides) rather than a slow check; also bounds the memory it takes.
MAX_COLLECT_CHARS = 1_000_000


def human_texts(obj: Any, _depth: int = 0) -> list[str]:
    """Human-written strings in a parsed body (JSON-in-strings and base64 unwrapped), in
    document order, each once; at most MAX_COLLECT_CHARS characters in all."""
    out: list[str] = []
    seen: set[str] = set()  # a set: 10,000s of unique sentences must not cost n² comparisons
    total = 0
    for path, leaf in walk(obj):
        if not isinstance(leaf, str) or not path:
            continue
        key = path[-1]
        low = key.lower()
        text_key = low in TEXT_KEYS
        if SKIP_KEY.search(key) and not text_key:
            continue
        found: list[str] = []
        if looks_human(leaf, text_key):
            found.append(leaf.strip())
        elif _depth < 2 and (decoded := b64_text(leaf)) is not None:
            inner = maybe_json_safe(decoded)
            if inner is not decoded:
                found += human_texts(inner, _depth + 1)
            elif looks_human(decoded, text_key):
                found.append(decoded.strip())
        for t in found:
            if t not in seen:
                seen.add(t)
                out.append(t)
                total += len(t)
        if total > MAX_COLLECT_CHARS:
            break
    return out


def guess_kind(path: str) -> str:
    """post, comment, reply or message from the words of an endpoint path."""
    p = path.lower()
    if re.search(r"messag|(?:^|/)dms?(?:/|$)|(?:^|/)direct|chat|conversation|inbox", p):
        return "message"
    if "reply" in p or "replies" in p:
        return "reply"
    if "comment" in p:
        return "comment"
    return "post"


def body_object(req: Req) -> Any:
    """The body as a JSON value, form/multipart fields as a dict, a plain-text, octet-stream or
    base64 body as {"text": ...}; None when it is not readable text (protobuf, media)."""
    kind = req.kind_of_body()
    if kind == "json":
        return req.json
    if kind in ("form", "text") and len(req.body) <= 8 * 1024 * 1024 and b64_text(req.text) is not None:
        return plain_text_object(req.text)  # the whole body is base64 (of JSON, a form or text)
    if kind in ("form", "multipart"):
        return {k: maybe_json_safe(v) for k, v in req.fields().items()}
    if kind == "empty":
        return None
    t = req.ctype[0]
    if kind == "binary":
        if t.startswith(("image/", "video/", "audio/")) or "protobuf" in t or "grpc" in t or "thrift" in t:
            return None
        try:
            text = req.body.decode("utf-8")
        except UnicodeDecodeError:
            return None
        if "\x00" in text:
            return None
    else:
        text = req.text
    return plain_text_object(text)


def plain_text_object(text: str, depth: int = 0) -> Any:
    """What a body that is plain text holds: JSON or a form inside, base64 of either, or the text."""
    stripped = text.strip()
    if depth < 2 and (decoded := b64_text(stripped)) is not None:
        return plain_text_object(decoded, depth + 1)
    if stripped[:1] in ("{", "["):
        inner = maybe_json_safe(stripped)
        if inner is not stripped:
            return inner
    if depth and re.fullmatch(r"[\w.%+\-*~\[\]]+=[^\s]*", stripped.split("&", 1)[0] + "="):
        return {k: maybe_json_safe(v) for k, v in parse_form(stripped)}
    return {"text": text}


def maybe_json_safe(v: str) -> Any:
    """A form value holding JSON parsed, else the string (a broken JSON value stays a string)."""
    try:
        return maybe_json(v)
    except BodyError:
        return v


def generic(req: Req, spec: str = "generic", kind: str | None = None) -> Submission | None:
    """A best-effort submission for a request no spec covers (None: publishes nothing)."""
    if req.method not in ("POST", "PUT", "PATCH"):
        return None
    probe = req.path + "?" + "&".join(k for k, _ in req.query)
    if NOT_POST.search(probe):
        return None
    obj = body_object(req)
    if isinstance(obj, dict) and isinstance(obj.get("query"), str):
        # GraphQL: only mutations publish
        if not obj["query"].lstrip().startswith("mutation"):
            return None
        obj = obj.get("variables")
    texts = human_texts(obj) if obj is not None else []
    images = req.images()
    if not texts and not images:
        return None
    return make(req, spec, kind or guess_kind(req.path), texts, images=images)


def generic_in(req: Req, obj: Any, spec: str, kind: str, target: Any = None) -> Submission | None:
    """The generic text finder over an already unwrapped value (a spec's fallback)."""
    texts = human_texts(obj)
    if not texts:
        return None
    return make(req, spec, kind, texts, target=target)


__all__ = ["generic", "generic_in", "human_texts", "is_tokenish", "looks_human", "guess_kind",
           "NOT_POST", "TEXT_KEYS"]
