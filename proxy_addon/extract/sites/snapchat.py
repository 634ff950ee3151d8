"""Snapchat web: chat messages are gRPC-Web protobuf with end-to-end encrypted content."""

from __future__ import annotations

import re

from proxy_addon.extract.body import Req
from proxy_addon.extract.model import Submission
from proxy_addon.extract.sites.spec import spec
from proxy_addon.extract.util import not_submission, unreadable


@spec("snapchat-chat", ("snapchat.com",), r"/messagingcoreservice\.MessagingCoreService/(\w+)$")
def chat(req: Req, m: re.Match[str]) -> Submission | None:
    if m.group(1) not in ("CreateContentMessage", "SendContentMessage"):
        return not_submission(req, "snapchat-chat")  # syncs, deltas, read state
    return unreadable(req, "snapchat-chat", "message",
                      "end-to-end encrypted (Fidelius) inside gRPC-Web protobuf")
