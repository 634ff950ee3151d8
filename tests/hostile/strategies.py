"""Hypothesis strategies for hostile input: post texts, JSON/form/multipart/binary bodies, a
request for every site spec (its path drawn from the spec's own regex), the recorded payloads
mutated as `gen.py` mutates them (driven by hypothesis, so failures shrink), websocket
messages and HAR documents.

`tests/hostile/test_properties.py` draws a small, derandomized sample in CI; `bench/fuzz
--hypothesis N` draws N with a seed. All names in the texts are fictional.
"""

from __future__ import annotations

import json
from urllib.parse import quote, urlencode

from gen import CTYPES, MUTATIONS, VIOLATION, Case, _encode, cases
from hypothesis import strategies as st

from proxy_addon.extract.sites import BUILTIN_SPECS, Spec

# Words the specs and the generic extractor look for, so generated objects reach their paths.
KEYS = ("text", "message", "body", "content", "status", "tweet_text", "variables", "input", "comment",
        "caption", "title", "richtext_json", "payload", "data", "record", "commentary", "tasks", "queryId",
        "doc_id", "fb_api_req_friendly_name", "thing_id", "api_type", "return_rich_text_json", "$type",
        "collection", "repo", "description", "note", "link", "url", "media", "reply", "in_reply_to")
# Pieces that stress the checker and the text scanners: leet, masks, spaced letters, long runs,
# escapes, control and combining characters, right-to-left marks, a URL, the violation.
FRAGMENTS = (VIOLATION, "Mason Brandt", "M a s o n  B r a n d t", "m4s0n br4ndt", "f_u_c_k", "sh1t",
             "sooooooo", "https://www.facebook.com/tyler.quinlan.2009", "@mason", "#grade7", "\\u0041",
             "\\\"", "%ff", "%zz", "&x=", "\x00", "\u202e", "e\u0301\u0301\u0301", "\ud7ff", "\ufeff",
             "a" * 3000, "x." * 1500, "123 Main Street", "555-0100", "Vote yes on Question 2!", " ")

post_texts = st.one_of(
    st.text(max_size=200),
    st.lists(st.one_of(st.sampled_from(FRAGMENTS), st.text(max_size=20)), max_size=12).map("".join),
)

_scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True), post_texts)
json_values = st.recursive(
    _scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=4),
                            st.dictionaries(st.one_of(st.sampled_from(KEYS), st.text(max_size=8)), inner, max_size=5)),
    max_leaves=25,
)


def _json_body(v: object) -> bytes:
    return json.dumps(v, allow_nan=True).encode("utf-8", "surrogatepass")


def _form_body(pairs: list[tuple[str, object]]) -> bytes:
    flat = [(k, v if isinstance(v, str) else json.dumps(v, allow_nan=True)) for k, v in pairs]
    return urlencode(flat, encoding="utf-8", errors="surrogatepass").encode()


def _multipart_body(pairs: list[tuple[str, str]]) -> bytes:
    out = b"".join(b"--zzBOUNDARYzz\r\nContent-Disposition: form-data; name=\"" + k.encode("utf-8", "replace")
                   + b"\"\r\n\r\n" + v.encode("utf-8", "surrogatepass") + b"\r\n" for k, v in pairs)
    return out + b"--zzBOUNDARYzz--\r\n"


_pairs = st.lists(st.tuples(st.one_of(st.sampled_from(KEYS), st.text(max_size=8)), json_values), max_size=6)

# (content-type, body) of every kind a site accepts, and some no site does.
bodies = st.one_of(
    st.tuples(st.just("application/json"), json_values.map(_json_body)),
    st.tuples(st.just("application/x-www-form-urlencoded"), _pairs.map(_form_body)),
    st.tuples(st.just("multipart/form-data; boundary=zzBOUNDARYzz"),
              st.lists(st.tuples(st.sampled_from(KEYS), post_texts), max_size=4).map(_multipart_body)),
    st.tuples(st.sampled_from(["text/plain", "text/plain; charset=utf-16", ""]),
              post_texts.map(lambda t: t.encode("utf-8", "surrogatepass"))),
    st.tuples(st.sampled_from(CTYPES), st.binary(max_size=600)),
)

_PATH_CHARS = st.characters(codec="ascii", categories=["L", "N"]) | st.sampled_from("-_.~")


def _path(s: Spec) -> st.SearchStrategy[str]:
    """A path the spec's regex matches, with URL-safe characters where the regex leaves it open."""
    return st.from_regex(s.path, fullmatch=True, alphabet=_PATH_CHARS | st.sampled_from("/%")).map(
        lambda p: quote(p if p.startswith("/") else "/" + p, safe="/%-_.~"))


def _host(s: Spec) -> st.SearchStrategy[str]:
    if not s.domains:  # any host (Mastodon, Bluesky)
        return st.sampled_from(["mastodon.social", "bsky.social", "morel.us-east.host.bsky.network", "example.org"])
    return st.sampled_from(s.domains).flatmap(lambda d: st.sampled_from([d, "www." + d, "api." + d]))


@st.composite
def spec_requests(draw: st.DrawFn, spec: Spec | None = None) -> tuple[Spec, str, str, dict[str, str], bytes]:
    """(spec, method, url, headers, body): a request the spec's (else any built-in spec's)
    domain, method and path match, with any body."""
    s = spec or draw(st.sampled_from(BUILTIN_SPECS))
    ctype, body = draw(bodies)
    headers = {"content-type": ctype} if ctype else {}
    if draw(st.booleans()):
        body, headers["content-encoding"] = _encode(draw(st.randoms(use_true_random=False)), body)
    return s, draw(st.sampled_from(s.methods)), f"https://{draw(_host(s))}{draw(_path(s))}", headers, body


@st.composite
def payload_mutants(draw: st.DrawFn) -> Case:
    """A recorded payload carrying a generated text, then 1-3 of gen.py's mutations."""
    name = draw(st.sampled_from([n for n in cases.names() if n not in cases.WEBSOCKET and n not in cases.BINARY]))
    text = draw(st.one_of(st.just(VIOLATION), post_texts.map(lambda t: t + " " + VIOLATION), post_texts))
    # JSON-escaped (all ASCII), so the text itself does not break the payload's framing.
    method, url, headers, body = cases.request(name, json.dumps(text)[1:-1])
    headers = {k.lower(): v for k, v in headers.items() if k.lower() != "content-length"}
    ctype = headers.get("content-type", "")
    r = draw(st.randoms(use_true_random=False))
    steps = draw(st.lists(st.sampled_from(sorted(MUTATIONS)), min_size=1, max_size=3))
    for m in steps:
        body, ctype = MUTATIONS[m](r, body, ctype)
    violating = VIOLATION.encode() in body
    if ctype:
        headers["content-type"] = ctype
    else:
        headers.pop("content-type", None)
    return Case(name, "+".join(steps), method, url, headers, body, violating)


ws_messages = st.one_of(
    json_values.map(lambda v: cases.mqtt_publish("/ls_req", _json_body({"payload": json.dumps(v), "request_id": 1}))),
    post_texts.map(lambda t: cases.ws_message(t)[1]),
    st.binary(max_size=400),
)

_HAR_KEYS = ("log", "entries", "request", "method", "url", "headers", "postData", "text", "mimeType",
             "encoding", "params", "name", "value", "_webSocketMessages", "type", "opcode", "data")
har_documents = st.recursive(
    _scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=3),
                            st.dictionaries(st.sampled_from(_HAR_KEYS), inner, max_size=6)),
    max_leaves=30,
).map(lambda v: {"log": {"entries": v if isinstance(v, list) else [v]}})
