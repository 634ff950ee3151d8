"""Discord: channel messages (JSON or multipart payload_json + files), threads, edits."""

from __future__ import annotations

import re
from typing import Any

from proxy_addon.extract.body import Req
from proxy_addon.extract.model import Submission
from proxy_addon.extract.sites.spec import spec
from proxy_addon.extract.util import dig, first, make, maybe_json

DC = ("discord.com", "discordapp.com")


def _payload(req: Req) -> Any:
    if req.kind_of_body() == "multipart":
        return maybe_json(req.fields().get("payload_json", "{}"), "multipart field payload_json")
    return req.json if req.kind_of_body() == "json" else {}


def _texts(msg: Any) -> list[Any]:
    out: list[Any] = [dig(msg, "content")]
    for e in dig(msg, "embeds") or []:
        out += [dig(e, "title"), dig(e, "description")]
    out.append(dig(msg, "poll", "question", "text"))
    out += [dig(a, "poll_media", "text") for a in dig(msg, "poll", "answers") or []]
    return out


@spec("discord-message", DC, r"^/api(?:/v\d+)?/channels/(\d+)/messages(?:/\d+)?/?$",
      ("POST", "PATCH"))
def message(req: Req, m: re.Match[str]) -> Submission | None:
    d = _payload(req)
    reply = first(dig(d, "message_reference", "message_id"))
    return make(req, "discord-message", "reply" if reply else "message", _texts(d),
                target=m.group(1))


@spec("discord-thread", DC, r"^/api(?:/v\d+)?/channels/(\d+)/threads/?$")
def thread(req: Req, m: re.Match[str]) -> Submission | None:
    d = _payload(req)
    return make(req, "discord-thread", "post", [dig(d, "name"), *_texts(dig(d, "message"))],
                target=m.group(1))
