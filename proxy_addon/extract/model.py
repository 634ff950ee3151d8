"""What extraction returns: a submission (what is being published, and where) or a body error."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class Submission:
    """What a request publishes: kind, the human text, links, uploaded images and the target."""

    site: str                       # request host
    kind: str | None                # post/comment/reply/message/connection/upload/...; None = not a submission
    texts: list[str]                # what the user is publishing (human text only)
    links: list[str]
    images: list[tuple[str, bytes]]  # (field or file name, bytes) from multipart uploads
    target: str | None              # page/group/account/conversation id or URL, as the site names it
    spec: str                       # which spec decided ("facebook-graphql", "generic", ...)
    unreadable: str | None = None   # why the body cannot be read (E2E encrypted, protobuf, binary)
    counterpart: str | None = None  # for kind "connection": who sent the invitation
    settings: dict[str, Any] = field(default_factory=dict)  # for create_page/create_group
    error: str | None = None        # why the body could not be read in full (texts: scanned from raw bytes)
    endpoint: str | None = None     # the site spec of a known posting endpoint it went to (its own fail mode)

    @property
    def text(self) -> str:
        """The texts joined one a line, as the checker reads them."""
        return "\n".join(self.texts)


class BodyError(ValueError):
    """The body cannot be read: malformed, oversized, a compression bomb, or a bad encoding."""
