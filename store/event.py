"""The event a writer appends, and how it becomes a minimal, hash-chained row."""

from __future__ import annotations

import difflib
import hashlib
import json
import os
import re
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import SplitResult, unquote, urlsplit, urlunsplit

SOURCES = ("proxy", "extension")
ACTIONS = ("warned", "blocked", "logged", "overridden", "edited", "cancelled", "error", "passed")
CONTENT_MODES = ("none", "redacted", "full")
REVIEW_STATUSES = ("open", "reviewed", "dismissed", "escalated")
GENESIS = "0" * 64

# The fields each event's hash covers, in this order; changing it breaks every old chain.
CHAIN_FIELDS = (
    "uid", "ts", "device", "seq", "prev_hash", "employee", "source", "site", "url", "account",
    "target", "kind", "action", "rules", "findings", "justification", "content_mode", "content",
    "content_hash", "policy_digest", "error", "request_id",
)
# The staff member the event is about and how the writer knew (docs/log.md "The staff member").
# Chained only when set: a row without them hashes exactly as rows did before they existed.
STAFF_FIELDS = ("staff", "staff_source")
STAFF_SOURCES = ("browser-profile", "os-user", "enrolment")
STAFF_MAX = 254  # an e-mail address's longest
# An e-mail address or an OS account name (DOMAIN\\user, first.last, o'brien): letters, digits and a
# few separators; no control characters, markup, quotes other than an apostrophe, or surrounding space.
_STAFF = re.compile(r"[\w.@+\-\\$'](?:[\w.@+\-\\$' ]*[\w.@+\-\\$'])?")
# The finding fields the log keeps (no message bodies or fix text: the clause id says it).
FINDING_FIELDS = ("rule", "clause", "reason", "score", "action", "span", "category", "what", "link",
                  "image", "excerpt")


@dataclass
class Event:
    """One intercepted action, as a writer (proxy or extension backend) reports it."""

    source: str
    action: str
    site: str | None = None
    url: str | None = None
    account: str | None = None
    target: str | None = None
    kind: str | None = None
    findings: list[Any] = field(default_factory=list)
    text: str | None = None
    justification: str | None = None
    policy_digest: str | None = None
    device: str | None = None
    employee: str | None = None
    error: str | None = None
    request_id: str | None = None
    time: float | None = None
    staff: str | None = None
    staff_source: str | None = None


def iso(t: float | None) -> str:
    """UTC time as fixed-width ISO text (sorts as text on both backends)."""
    dt = datetime.fromtimestamp(time.time() if t is None else t, UTC)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def new_uid(t: float | None = None) -> str:
    """A time-ordered unique id: 12 hex digits of milliseconds, then 20 random."""
    ms = int((time.time() if t is None else t) * 1000)
    return f"{ms:012x}{uuid.uuid4().hex[:20]}"


def scrub_url(url: str | None) -> str | None:
    """The URL without user info, query string or fragment (where tokens such as
    access_token or fb_dtsg travel), capped in length."""
    if not url:
        return url
    try:
        p = urlsplit(url)
    except ValueError:
        return None
    return urlunsplit((p.scheme, _netloc(p), p.path, "", ""))[:500]


def _netloc(p: SplitResult, host: str | None = None) -> str:
    """The host (or `host`) and port, without user info; a netloc whose "port" is not a number
    (Bluesky's "at://did:plc:…" targets) is an id, kept as it is."""
    try:
        port = p.port
    except ValueError:
        return p.netloc.rsplit("@", 1)[-1]
    host = (p.hostname or "") if host is None else host
    return f"{host}:{port}" if port else host


def sha256(text: str) -> str:
    """Hex sha256 of UTF-8 text."""
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def chain_hash(row: dict[str, Any]) -> str:
    """The hash of one event over its canonical fields (which include the previous hash); the
    staff fields are appended when either is set, so older rows verify unchanged."""
    fields = [row.get(k) for k in CHAIN_FIELDS]
    staff = [row.get(k) for k in STAFF_FIELDS]
    if any(v is not None for v in staff):
        fields += staff
    canon = json.dumps(fields, ensure_ascii=False, separators=(",", ":"))
    return sha256(canon)


def check_staff(staff: Any, source: Any) -> tuple[str | None, str | None]:
    """The (staff, staff_source) pair, validated: both or neither; ValueError names what is wrong
    (never the value, which names a person)."""
    if staff is None and source is None:
        return None, None
    if not isinstance(staff, str) or not staff:
        raise ValueError("staff: a non-empty string (an e-mail address or an account name)")
    if len(staff) > STAFF_MAX:
        raise ValueError(f"staff: longer than {STAFF_MAX} characters")
    if not _STAFF.fullmatch(staff):
        raise ValueError("staff: letters, digits and . @ + - \\ $ ' only (an e-mail address or an account name)")
    if source not in STAFF_SOURCES:
        raise ValueError(f"staff_source: one of {', '.join(STAFF_SOURCES)}")
    return staff, source


_REDACTION_MARK = re.compile(r"(\[[A-Z][A-Z_]*\])")


def _offset_map(src: str, dst: str) -> list[tuple[int, int, int, int, bool]]:
    """Aligned blocks (src_a, src_b, dst_a, dst_b, unchanged) between a text and its redaction, where
    redaction replaced stretches with markers such as [STUDENT]; difflib as a fallback."""
    parts = _REDACTION_MARK.split(dst)
    ops: list[tuple[int, int, int, int, bool]] = []
    i = j = 0
    ok = src.startswith(parts[0])
    if ok:
        ops.append((0, len(parts[0]), 0, len(parts[0]), True))
        i = j = len(parts[0])
        for k in range(1, len(parts), 2):
            marker, lit = parts[k], parts[k + 1]
            last = k + 2 >= len(parts)
            if last:
                end = len(src) - len(lit) if lit and src.endswith(lit) else (len(src) if not lit else -1)
            else:
                end = src.find(lit, i + 1) if lit else -1
            if end < i + 1:
                ok = False
                break
            ops.append((i, end, j, j + len(marker), False))
            j += len(marker)
            ops.append((end, end + len(lit), j, j + len(lit), True))
            i, j = end + len(lit), j + len(lit)
        ok = ok and i == len(src) and j == len(dst)
    if ok:
        return ops
    return [(i1, i2, j1, j2, tag == "equal") for tag, i1, i2, j1, j2 in
            difflib.SequenceMatcher(None, src, dst, autojunk=False).get_opcodes()]


def _map_offset(ops: list[tuple[int, int, int, int, bool]], pos: int, end: bool) -> int:
    """Where an offset in the original text lands in the redacted text."""
    for i1, i2, j1, j2, same in ops:
        if i1 <= pos < i2 or (end and pos == i2 and i2 > i1):
            if same:  # an unchanged block: shift
                return j1 + (pos - i1)
            return j2 if end else j1  # inside a replaced stretch: cover all of it
    return ops[-1][3] if ops else 0


def _finding_dict(f: Any) -> dict[str, Any]:
    d = f.to_dict() if hasattr(f, "to_dict") else dict(f)
    return {k: d[k] for k in FINDING_FIELDS if d.get(k) is not None}


def _unchanged(text: str) -> str:
    return text


def _kept(text: str, mode: str, redact: Callable[[str], str] | None) -> tuple[str | None, Callable[[str], str]]:
    """What is stored of the text under `mode`, and the mask for excerpts and justifications."""
    if mode == "full":
        return text, _unchanged  # nothing to mask
    if redact is None:
        raise ValueError(f"content mode {mode!r} needs a redact function")
    if mode == "redacted":
        return (redact(text) if text else ""), redact
    return None, redact


_CAMEL = re.compile(r"(?<=[a-z])(?=[A-Z])|(?<=[A-Za-z])(?=\d)|(?<=\d)(?=[A-Za-z])")
_SEPARATORS = re.compile(r"[._\-+~,;:=@!]+|%20|\s+")
_WORDS = re.compile(r"[^\W\d_]{2,}")


def _spaced(segment: str) -> str:
    """A URL segment or handle as words: "TylerQuinlanSupport" / "tyler.quinlan.2009" -> "Tyler Quinlan Support"."""
    return " ".join(_SEPARATORS.sub(" ", _CAMEL.sub(" ", unquote(segment))).split())


class Scrubber:
    """Masks student details in the short strings an event carries besides its text (finding
    reasons, links, URL paths, targets, image names), the same way the text was masked: the
    redact function on each (URL segments read as words), and the words of every name it found
    in the text masked wherever they turn up."""

    def __init__(self, text: str, redacted: str | None, redact: Callable[[str], str]) -> None:
        self.redact = redact
        self.words: set[str] = set()
        if text and redacted is not None and redacted != text:
            for i1, i2, j1, j2, same in _offset_map(text, redacted):
                if not same and redacted[j1:j2] == "[STUDENT]":
                    self.words.update(w.lower() for w in _WORDS.findall(text[i1:i2]))
        self._pattern = (re.compile(r"(?<![^\W\d_])(?:" + "|".join(sorted(map(re.escape, self.words), key=len,
                                                                                 reverse=True)) + r")(?![^\W\d_])",
                                    re.I) if self.words else None)

    def text(self, s: str) -> str:
        """Free text (a reason): redacted, and the text's student names masked."""
        out = self.redact(s) if s else s
        if self._pattern is not None and out:
            out = self._pattern.sub("[STUDENT]", out)
        return out

    def segment(self, seg: str) -> str:
        """One path segment, handle or file name: replaced by its redacted words when it names anyone."""
        if not seg or not any(c.isalpha() for c in seg):
            return seg
        words = _spaced(seg)
        masked = self.text(words)
        if masked == words and "[" not in masked:
            masked = self._joined(words)
        return seg if masked == words else "-".join(masked.split())

    def _joined(self, words: str) -> str:
        # "tylerquinlan": one word of letters may be a first and last name run together
        for w in words.split():
            if 5 <= len(w) <= 40 and w.isalpha():
                for k in range(2, len(w) - 1):
                    cand = f"{w[:k]} {w[k:]}"
                    if self.redact(cand) == "[STUDENT]":
                        return words.replace(w, "[STUDENT]")
        return words

    def url(self, url: str | None) -> str | None:
        """scrub_url, then every path segment (and sub-domain label) masked."""
        clean = scrub_url(url)
        if not clean:
            return clean
        p = urlsplit(clean)
        labels = (p.hostname or "").split(".")
        host = ".".join([*(self.segment(x) for x in labels[:-2]), *labels[-2:]]) if len(labels) > 2 else (p.hostname or "")
        host = _netloc(p, host)
        path = "/".join(self.segment(x) for x in p.path.split("/"))
        return urlunsplit((p.scheme, host, path, "", ""))[:500]

    def target(self, target: str | None) -> str | None:
        """A target: a URL, a path, or a handle / id."""
        if not target:
            return target
        if "://" in target:
            return self.url(target)
        return "/".join(self.segment(x) for x in target.split("/"))


def _minimal_findings(findings: list[dict[str, Any]], text: str, content: str | None, mode: str,
                      mask: Callable[[str], str], scrub: Scrubber | None = None) -> None:
    """Excerpts masked (dropped in mode none), reasons, links and image names masked, spans moved
    onto the stored content."""
    ops = _offset_map(text, content) if mode == "redacted" and content is not None and content != text else None
    for f in findings:
        if "excerpt" in f:
            if mode == "none":
                del f["excerpt"]
            else:
                f["excerpt"] = mask(str(f["excerpt"]))[:300]
        if scrub is not None:
            if "reason" in f:
                f["reason"] = scrub.text(str(f["reason"]))[:500]
            if "image" in f:
                f["image"] = scrub.segment(str(f["image"]))
        if "link" in f:
            f["link"] = scrub.url(str(f["link"])) if scrub is not None else scrub_url(str(f["link"]))
        span = f.get("span")
        if span is not None:
            if mode == "none":
                del f["span"]
            elif ops is not None:
                a, b = int(span[0]), int(span[1])
                f["span"] = [_map_offset(ops, a, False), _map_offset(ops, b, True)]
            else:
                f["span"] = [int(span[0]), int(span[1])]


def to_row(ev: Event, *, mode: str, redact: Callable[[str], str] | None, device: str,
           employee: str | None, staff: tuple[str | None, str | None] = (None, None)) -> dict[str, Any]:
    """Turn an Event into the row to store: content per `mode`, spans re-mapped onto the
    stored content, URLs scrubbed; the chain fields are filled in when it is written. `staff`
    is the writer's (staff, staff_source) for events that name none (the enrolled user)."""
    if ev.source not in SOURCES:
        raise ValueError(f"event source must be one of {', '.join(SOURCES)}")
    if ev.action not in ACTIONS:
        raise ValueError(f"event action must be one of {', '.join(ACTIONS)}")
    who, how = check_staff(ev.staff, ev.staff_source) if ev.staff or ev.staff_source else check_staff(*staff)
    text = ev.text or ""
    findings = [_finding_dict(f) for f in ev.findings or ()]
    content, mask = _kept(text, mode, redact)
    # Outside mode full, what names a student is masked everywhere: reasons, links, URL paths, targets.
    scrub = None if mode == "full" else Scrubber(text, content if mode == "redacted" else mask(text), mask)
    _minimal_findings(findings, text, content, mode, mask, scrub)
    rules = " ".join(sorted({str(f.get("rule")) for f in findings if f.get("rule")}))
    justification = ev.justification
    if justification and mode != "full":
        justification = mask(justification)  # the redaction (mask is redact in these modes)
    return {
        "uid": new_uid(ev.time),
        "ts": iso(ev.time),
        "device": (ev.device or device)[:200],
        "employee": (ev.employee or employee or None),
        "source": ev.source,
        "site": (ev.site or None) and ev.site[:253],
        "url": scrub.url(ev.url) if scrub is not None else scrub_url(ev.url),
        "account": ev.account,
        "target": (scrub.target(ev.target) if scrub is not None
                   else scrub_url(ev.target) if ev.target and "://" in ev.target else ev.target),
        "kind": ev.kind,
        "action": ev.action,
        "rules": rules,
        "findings": json.dumps(findings, ensure_ascii=False, separators=(",", ":")),
        "justification": justification,
        "content_mode": mode,
        "content": content,
        "content_hash": sha256(text) if text else None,
        "policy_digest": ev.policy_digest,
        "error": (ev.error or None) and str(ev.error)[:500],
        "request_id": ev.request_id,
        "staff": who,
        "staff_source": how,
    }


def default_device() -> str:
    """This machine's name (env POSTGUARD_DEVICE overrides)."""
    import socket

    return os.environ.get("POSTGUARD_DEVICE") or socket.gethostname() or "unknown"


def default_employee() -> str | None:
    """The employee as configured: env POSTGUARD_EMPLOYEE, else the OS user."""
    if e := os.environ.get("POSTGUARD_EMPLOYEE"):
        return e
    try:
        import getpass

        return getpass.getuser()
    except Exception:  # no user name in a container: leave it empty rather than guess
        return None
