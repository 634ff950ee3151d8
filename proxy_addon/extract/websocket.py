"""Messages sent over websockets: Meta's MQTT-over-websocket chat (Messenger, Instagram web DMs).

The add-on passes each client-to-server websocket message here. An MQTT PUBLISH to /ls_req
carries JSON whose `payload` is a JSON string holding tasks whose `payload` is a JSON string
again: a send-message task (label 46) has the text. End-to-end encrypted chats carry no
such text: they are reported unreadable, never guessed.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlsplit

from proxy_addon.extract.hosts import is_social_host
from proxy_addon.extract.model import BodyError, Submission
from proxy_addon.extract.util import dig, first, maybe_json

SEND_LABELS = {"46"}  # Lightspeed "send message" task


def mqtt_publishes(data: bytes) -> list[tuple[str, bytes]]:
    """(topic, payload) of each MQTT 3.1.1 PUBLISH packet in a websocket message."""
    out: list[tuple[str, bytes]] = []
    i, n = 0, len(data)
    while i < n:
        head = data[i]
        i += 1
        length, shift = 0, 0
        while True:
            if i >= n or shift > 21:
                return out
            b = data[i]
            i += 1
            length |= (b & 0x7F) << shift
            shift += 7
            if not b & 0x80:
                break
        body, i = data[i:i + length], i + length
        if head >> 4 != 3 or len(body) < 2:
            continue  # not a PUBLISH (CONNECT, SUBSCRIBE, PING...)
        tlen = int.from_bytes(body[:2], "big")
        topic = body[2:2 + tlen].decode("utf-8", "replace")
        pos = 2 + tlen + (2 if (head >> 1) & 3 else 0)  # QoS > 0 has a packet id
        out.append((topic, body[pos:]))
    return out


def ls_req_message(payload: bytes, host: str) -> Submission | None:
    """The message a Lightspeed /ls_req payload sends, or None."""
    spec = "meta-mqtt"
    try:
        outer = json.loads(payload)
        inner = maybe_json(dig(outer, "payload"))
    except (ValueError, RecursionError):
        return Submission(host, "message", [], [], [], None, spec,
                          unreadable="MQTT payload is not JSON (binary or encrypted)")
    try:
        return _send_tasks(inner, host, spec)
    except BodyError as e:  # a task's JSON did not parse: scan the bytes, check them, fail mode
        from proxy_addon.extract.salvage import scan_text

        texts = scan_text(payload)
        return Submission(host, "message", texts, [], [], None, spec, error=f"unreadable message: {e}")


def _send_tasks(inner: Any, host: str, spec: str) -> Submission | None:
    texts: list[str] = []
    target = None
    for task in dig(inner, "tasks") or []:
        if str(dig(task, "label")) not in SEND_LABELS:
            continue
        tp = maybe_json(dig(task, "payload"))
        text = dig(tp, "text")
        target = target or first(dig(tp, "thread_id"), dig(task, "queue_name"))
        if isinstance(text, str) and text.strip():
            texts.append(text.strip())
        else:
            return Submission(host, "message", [], [], [], target, spec,
                              unreadable="send task without readable text (end-to-end encrypted?)")
    if not texts:
        return None
    return Submission(host, "message", texts, [], [], target, spec)


def extract_websocket(url: str, message: bytes, policy: Any) -> Submission | None:
    """The submission a client-to-server websocket message makes, or None."""
    host = (urlsplit(url).hostname or "").lower()
    if not is_social_host(host, policy):
        return None
    for topic, payload in mqtt_publishes(message):
        if topic == "/ls_req":
            sub = ls_req_message(payload, host)
            if sub is not None:
                return sub
    return None
