"""What the extension's two answerers share: the local backend (`postguard backend`, reached
directly or through the native host) and the district server's extension API (Chromebooks and
computers without an agent). One body reader, one check, one way of turning the employee's
choices into log events, so both decide a post exactly alike."""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import logging
from collections import OrderedDict
from typing import TYPE_CHECKING, Any

from aiohttp import web

from checker import ImageInput, InputError, Policy, Post
from enforce import ACTION_OF_CHOICE, event_for, inspect_post, justification_error
from extension.backend import schema
from extension.backend.explain import explain
from extension.backend.security import Budget, error
from store.event import Event, check_staff

if TYPE_CHECKING:
    from store import Store
    from store.writer import Pending

log = logging.getLogger("postguard.backend")

# The submit usually re-checks the text the last typing hint just checked; a small LRU of
# verdicts (text-only posts, short texts) turns that second check into a lookup.
CACHE_SIZE = 256
CACHE_MAX_TEXT = 5000
UNCHECKED = "not checked when posted: the backend was unreachable"
BODY_SIZE = web.RequestKey("body_size", int)  # bytes of the body json_body read


async def json_body(request: web.Request, body_schema: dict[str, Any],
                    limit: int) -> dict[str, Any] | web.Response:
    """The request's JSON body (at most `limit` bytes) validated against `body_schema`, or a
    clear 400/413/415."""
    if request.content_type != "application/json":
        return error(415, "Content-Type must be application/json")
    too_big = error(413, f"body larger than {limit:,} bytes")
    if request.content_length is not None and request.content_length > limit:
        return too_big
    parts, size = [], 0
    try:
        while chunk := await request.content.read(1 << 16):
            size += len(chunk)
            if size > limit:
                return too_big
            parts.append(chunk)
    except web.HTTPRequestEntityTooLarge:
        return too_big
    try:
        body = json.loads(b"".join(parts).decode("utf-8"))
    except UnicodeDecodeError:
        return error(400, "body is not UTF-8")
    except json.JSONDecodeError as e:
        return error(400, f"body is not valid JSON: {e.msg} at line {e.lineno} column {e.colno}")
    problems = schema.validate(body, body_schema)
    if problems:
        return error(400, "request does not match the schema", problems[:20])
    request[BODY_SIZE] = size
    return body


def post_of(body: dict[str, Any], images: tuple[ImageInput, ...] = ()) -> Post:
    """The checker's Post for a check body or an event."""
    return Post(text=body["text"], account=body.get("account"), site=body["site"],
                target=body.get("target"), links=tuple(body.get("links", ())),
                images=images, kind=body.get("kind", "post"))


def _images(body: dict[str, Any]) -> tuple[ImageInput, ...] | web.Response:
    out = []
    for i, img in enumerate(body.get("images", ())):
        data = img["data"]
        if data.startswith("data:"):  # a data: URL as the browser's FileReader gives it
            data = data.partition(",")[2]
        try:
            out.append(ImageInput(name=img["name"], data=base64.b64decode(data, validate=True)))
        except (binascii.Error, ValueError):
            return error(400, "request does not match the schema", [f"body.images[{i}].data: not base64"])
    return tuple(out)


class VerdictCache:
    """The last CACHE_SIZE explained verdicts of text-only posts, most recently used last."""

    def __init__(self) -> None:
        self._d: OrderedDict[str, dict[str, Any]] = OrderedDict()

    @staticmethod
    def key(body: dict[str, Any]) -> str | None:
        if body.get("images") or len(body["text"]) > CACHE_MAX_TEXT:
            return None
        return json.dumps([body["text"], body["site"], body.get("target"), body.get("links"),
                           body.get("kind"), body.get("account")])

    def get(self, key: str | None) -> dict[str, Any] | None:
        if key is None or key not in self._d:
            return None
        self._d.move_to_end(key)
        return self._d[key]

    def clear(self) -> None:
        """Forget every verdict (a new policy is in force)."""
        self._d.clear()

    def put(self, key: str | None, value: dict[str, Any]) -> None:
        if key is None:
            return
        self._d[key] = value
        if len(self._d) > CACHE_SIZE:
            self._d.popitem(last=False)


async def check(body: dict[str, Any], policy: Policy, cache: VerdictCache,
                in_thread: bool = False) -> dict[str, Any] | web.Response:
    """The explained verdict for a validated check body (schema.CHECK), or a 400; checked on a
    thread when `in_thread` (a server with other work on its loop) or when there are images."""
    images = _images(body)
    if isinstance(images, web.Response):
        return images
    key = cache.key(body)
    out = cache.get(key)
    if out is None:
        post = post_of(body, images)
        try:
            # Images (perceptual hashing) are the slow part; keep the loop free for them only.
            verdict = (await asyncio.to_thread(inspect_post, post, policy) if images or in_thread
                       else inspect_post(post, policy))
        except InputError as e:
            return error(400, f"cannot check this post: {e}")
        out = explain(verdict, policy, body["text"])
        cache.put(key, out)
    return out


def events_of(raw: dict[str, Any], policy: Policy, budget: tuple[Budget, Budget], size: int,
              **where: Any) -> list[Event] | web.Response:
    """The log events for one event or a batch (`{"events": [...]}`), findings recomputed here
    (never taken from the client); a 400 for a bad batch, a 429 past the (events, bytes) budget.
    `where` (device, employee) is set on every event."""
    batch = raw if "events" in raw else {"events": [raw]}
    problems = schema.validate(batch, schema.EVENTS)
    if problems:
        return error(400, "request does not match the schema", problems[:20])
    for i, ev in enumerate(batch["events"]):
        problem = justification_error(ev.get("justification"), policy.settings)
        # A record queued in the browser keeps no text and no reason (see sw.js `redacted`).
        if ev["choice"] == "overridden" and problem and not (ev.get("queued") and not ev["text"]):
            return error(400, "request does not match the schema", [f"body.events[{i}].justification: {problem}"])
        try:  # the browser profile's account: an e-mail address or account name, nothing else
            check_staff(ev.get("staff") or None, "browser-profile" if ev.get("staff") else None)
        except ValueError as e:
            return error(400, "request does not match the schema", [f"body.events[{i}].{e}"])
    # A person makes a few choices a minute; a forger at 100 requests a second must not fill the log.
    n_events, (count_budget, byte_budget) = len(batch["events"]), budget
    if not (count_budget.can(n_events) and byte_budget.can(size)):
        wait = max(count_budget.wait(n_events), byte_budget.wait(size))
        return error(429, "too many events; the extension keeps them and sends them later",
                     headers={"Retry-After": str(min(wait, 3600))})
    count_budget.spend(n_events)
    byte_budget.spend(size)
    out = []
    for ev in batch["events"]:
        err = ev.get("error")
        if ev["choice"] == "unchecked":
            err = err or UNCHECKED
        verdict = None
        if ev["text"]:  # a queued record keeps no text (the browser stores nothing to redact)
            try:
                verdict = inspect_post(post_of(ev), policy)
            except InputError as e:  # still a choice the person made: log it, without findings
                err = f"cannot check this post: {e}"
        out.append(event_for(
            "extension", ACTION_OF_CHOICE[ev["choice"]], verdict, policy_digest=policy.digest,
            site=ev["site"], url=ev.get("url"), account=ev.get("account"), target=ev.get("target"),
            kind=ev.get("kind", "post"), text=ev["text"], justification=ev.get("justification"),
            error=err, request_id=ev.get("request_id"), staff=ev.get("staff"),
            staff_source="browser-profile" if ev.get("staff") else None, **where))
    return out


class Recent:
    """The choices logged lately, by (device, request id, action), so that a batch sent again is
    stored once: the extension sends its queue again when it got no answer (the 201 lost on the
    way, a timeout) or a 503 after part of the batch was kept. A choice sent again while the one
    before is durable or on its way gets the same event (and id); one whose log write failed is
    submitted anew. Bounded (`size` choices, the oldest forgotten first); a choice it does not
    hold (sent again after a restart of the process, or forgotten) is looked up in the log by its
    request id (`Store.find_requests`) before it is stored. Only a choice still in the spool
    while the database is down can then be stored twice, marked by the same request id.
    Events without a request id (records queued while nothing answered) are always stored."""

    def __init__(self, size: int = 20_000) -> None:
        self.size = size
        self._seen: OrderedDict[tuple[str, str, str], Pending] = OrderedDict()

    @staticmethod
    def _key(ev: Event) -> tuple[str, str, str]:
        return (ev.device or "", ev.request_id or "", ev.action)

    def submit(self, store: Store, ev: Event) -> Pending:
        if not ev.request_id:
            return store.submit(ev)
        key = self._key(ev)
        p = self._seen.get(key)
        if p is not None and not (p.future.done() and p.future.exception() is not None):
            self._seen.move_to_end(key)
            return p
        self._seen.pop(key, None)  # a failed write: submitted anew, at the end
        p = self._seen[key] = store.submit(ev)
        while len(self._seen) > self.size:
            self._seen.popitem(last=False)
        return p

    async def _remember_logged(self, store: Store, events: list[Event]) -> None:
        """Choices not held here that the log already has (a send repeated after a restart):
        held from now on as their logged events, so `submit` answers with those."""
        from store.writer import Pending

        # held here by (device as the event names it, ...); logged by the device the row names
        logged = {(ev.device or store.device, ev.request_id, ev.action): self._key(ev) for ev in events
                  if ev.request_id and self._key(ev) not in self._seen}
        if not logged:
            return
        try:
            found = await asyncio.to_thread(store.find_requests, list(logged))
        except Exception as e:  # down, corrupt, anything: a lookup never stops the events being stored
            # (the writer reports the database's state; a choice may then be stored twice)
            log.debug("request ids not looked up: %s", e)
            return
        for k, uid in found.items():
            self._seen[logged[k]] = Pending.settled(uid)

    async def acknowledge(self, store: Store, events: list[Event]) -> web.Response:
        """The answer to a POST of events: 201 with their ids once every one is durable
        (committed, or in the fsynced spool), 503 when neither takes them (the extension keeps
        them and sends them again, which `submit` makes harmless)."""
        from store.writer import NotDurable, durable

        await self._remember_logged(store, events)
        pending = [self.submit(store, ev) for ev in events]
        try:
            await durable(pending)
        except NotDurable:  # logged by the store
            return error(503, "the interception log cannot take events now (database and spool both unusable)")
        return web.json_response({"ok": True, "ids": [p.uid for p in pending]}, status=201)
