"""Delivering the alert outbox: e-mail through the district's SMTP server (stdlib smtplib, in a
thread) and a signed JSON webhook (aiohttp). `Alerter` is the server's sender task: it wakes when
an upload queued an alert, when a transaction wrote events with findings or an escalation
(`store.incidents.signal`: in this process, and on PostgreSQL from any process by LISTEN/NOTIFY),
and otherwise every `poll_seconds`; what fails stays in the outbox and is retried with backoff,
so nothing is lost while the SMTP server or the ticketing system is down."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import aiohttp
from aiohttp import web

from server import alerts
from server.alerts_mail import digest_message, one_message
from server.alerts_policy import AlertPolicy
from server.alerts_settings import AlertSettings
from server.alerts_transport import post_webhook, send_mail, webhook_body
from store import incidents
from store.db import Conn, db_down, is_postgres
from store.event import iso

if TYPE_CHECKING:
    from checker import Policy
    from server.pool import DbPool

log = logging.getLogger("postguard.alerts")
LOOKBACK_SECONDS = 86400.0  # a starting server looks this far back for what it may not have alerted
SIGNAL_WAIT_SECONDS = 10.0  # how long rows a signal announced are looked for (their transaction may roll back)
SIGNAL_LOOK_SECONDS = 0.05  # how often, until they are visible
LISTEN_RETRY_SECONDS = 5.0  # a lost LISTEN connection is opened again after this
Batch = tuple[str, str, list[dict[str, Any]]]  # (channel, target, outbox rows): one message


def batches(rows: list[dict[str, Any]]) -> list[Batch]:
    """One message per immediate row; one per (channel, target, route) for the digest rows."""
    out: list[Batch] = []
    digests: dict[tuple[str, str, str], list[dict[str, Any]]] = defaultdict(list)
    for r in rows:
        if r["mode"] == "digest":
            digests[(r["channel"], r["target"], r["route"])].append(r)
        else:
            out.append((r["channel"], r["target"], [r]))
    out += [(ch, target, rs) for (ch, target, _), rs in digests.items()]
    return out


class Alerter:
    """The policy's routes, the delivery settings and the sender loop of one server."""

    def __init__(self, routes: AlertPolicy, policy: Callable[[], Policy], settings: AlertSettings,
                 pool: DbPool, follow: bool = False) -> None:
        # `policy`: the policy in force at each use (the server's newest published bundle).
        # `follow`: the routes are that policy's alerts.toml, read again whenever it changes
        # (a bundle whose alerts.toml does not load keeps the routes before it, loudly);
        # otherwise `routes` stay (an alerts file named on the command line).
        self._routes, self.policy_now, self.settings, self.pool = routes, policy, settings, pool
        self._follow = follow
        self._routes_of: Policy | None = None  # the policy `_routes` were read from (follow)
        self._routes_lock = threading.Lock()
        self._wake = asyncio.Event()
        self._held: set[str] = set()
        self._since = iso(time.time() - LOOKBACK_SECONDS)
        # per scan (alerts.SCANS): where the next look starts, and the newest id the last look saw
        self._windows: dict[str, tuple[int | None, int | None]] = {"written": (None, None)}
        self._scan_for(routes)
        self._purged = 0.0      # when alerts past retention were last purged
        # per scan: the row id a signal announced, and until when it is looked for
        self._expect: dict[str, tuple[int, float]] = {}
        self._loop: asyncio.AbstractEventLoop | None = None

    @property
    def policy(self) -> Policy:
        return self.policy_now()

    @property
    def routes(self) -> AlertPolicy:
        """The routes in force: with `follow`, those of the policy in force now."""
        if not self._follow:
            return self._routes
        # read from the event loop (scans) and the database threads (the ingest hook) alike: one
        # reads the new routes while the others wait for them, never the old ones meanwhile
        with self._routes_lock:
            if (now := self.policy_now()) is not self._routes_of:
                from checker import PolicyError
                from server.alerts_policy import load_alerts

                try:
                    self._routes = load_alerts(now)
                    log.info("alerts: %d routes from the policy in force (%s)", len(self._routes.routes),
                             now.digest[:12])
                except PolicyError as e:
                    log.error("alerts: the policy in force (%s) has an alerts.toml that does not load, the routes "
                              "before it stay: %s", now.digest[:12], e)
                self._routes_of = now
                self._scan_for(self._routes)
            return self._routes

    def _scan_for(self, routes: AlertPolicy) -> None:
        """Routes on escalations need the scan of the review table (alerts.SCANS)."""
        if any("escalated" in r.actions for r in routes.routes):
            self._windows.setdefault("escalated", (None, None))

    @property
    def tz(self) -> ZoneInfo:
        """The e-mails' times: the district's zone."""
        return ZoneInfo(self.policy.district.time_zone)

    def on_stored(self, conn: Conn, rows: list[dict[str, Any]]) -> None:
        """The ingest hook: outbox rows for the events just stored, in their transaction. A fault
        of the alerts (not of the database) is logged and undone to a savepoint: the upload is
        stored anyway, never refused over an alert."""
        if not self.routes.routes:
            return
        conn.execute("SAVEPOINT postguard_alerts")
        try:
            alerts.enqueue(conn, self.routes, self.policy, rows, time.time(), base_url=self.settings.console_base_url)
        except db_down():
            raise
        except Exception:
            conn.execute("ROLLBACK TO SAVEPOINT postguard_alerts")
            log.exception("alerts: the alerts of %d stored events could not be queued", len(rows))
        conn.execute("RELEASE SAVEPOINT postguard_alerts")

    def wake(self) -> None:
        """Look at the outbox now (an upload queued something)."""
        self._wake.set()

    def signalled(self, table: str, upto: int) -> None:
        """A transaction wrote rows of `table` up to id `upto` that may alert (store.incidents.signal;
        any thread): look now, and again every SIGNAL_LOOK_SECONDS until the scan of that table
        has read them (the signal comes before the commit) or SIGNAL_WAIT_SECONDS have passed."""
        loop = self._loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self._expecting, table, upto)

    def _expecting(self, table: str, upto: int) -> None:
        until = time.monotonic() + SIGNAL_WAIT_SECONDS
        for scan in self._windows:
            if alerts.SCANS[scan][0] == table:
                have = self._expect.get(scan, (0, 0.0))[0]
                self._expect[scan] = (max(have, upto), until)
                self._wake.set()

    def channels(self) -> tuple[str, ...]:
        """The channels this server can deliver; the others wait in the outbox (logged once)."""
        s, ready = self.settings, []
        for ch, ok, why in (("email", bool(s.smtp_host), "no SMTP server is set (POSTGUARD_SMTP_HOST)"),
                            ("webhook", bool(s.webhook_secret), "no webhook secret is set (POSTGUARD_WEBHOOK_SECRET)")):
            if ok:
                ready.append(ch)
            elif ch not in self._held and any(getattr(r, ch) for r in self.routes.routes):
                self._held.add(ch)
                log.warning("alerts: %s alerts wait in the outbox: %s", ch, why)
        return tuple(ready)

    async def run(self) -> None:
        """Send what is due, then sleep until woken, the poll interval, or the next retry."""
        if not self.routes.routes and not self._follow:
            return
        self._loop = asyncio.get_running_loop()
        stop = incidents.listen(self.pool.db, self.signalled)
        other = asyncio.create_task(self._listen(), name="alerts-listen") if is_postgres(self.pool.db) else None
        timeout = aiohttp.ClientTimeout(total=self.settings.timeout_seconds)
        try:
            async with aiohttp.ClientSession(timeout=timeout) as http:
                while True:
                    self._wake.clear()
                    try:
                        await self.send_due(http)
                    except ConnectionError as e:
                        log.warning("alerts postponed: %s", e)
                    except Exception:
                        log.exception("alerts: sending failed")
                    idle = await self._idle()
                    # asyncio.wait, not wait_for: Python 3.11's wait_for could leave this task
                    # "cancelling" for good when the wake-up and the server's stop met, and the
                    # server's shutdown then waited on it forever
                    waiter = asyncio.ensure_future(self._wake.wait())
                    try:
                        await asyncio.wait({waiter}, timeout=idle)
                    finally:
                        waiter.cancel()
        finally:
            stop()
            if other is not None:
                other.cancel()
                await asyncio.gather(other, return_exceptions=True)

    async def _listen(self) -> None:
        """PostgreSQL: LISTEN for the signals of other processes writing this database (a console,
        a proxy or a second server on it), on a connection of its own, opened again when lost."""
        import psycopg

        while True:
            try:
                async with await psycopg.AsyncConnection.connect(self.pool.db, autocommit=True,
                                                                  connect_timeout=5) as aconn:
                    await aconn.execute(f"LISTEN {incidents.CHANNEL}")
                    self._wake.set()  # whatever was signalled while nobody listened
                    async for note in aconn.notifies():
                        table, _, upto = note.payload.partition(":")
                        self._expecting(table, int(upto) if upto.isdigit() else 0)
            except asyncio.CancelledError:
                raise
            except Exception as e:
                log.warning("alerts: not listening for other processes' signals (%s); retrying in %.0f s",
                            type(e).__name__, LISTEN_RETRY_SECONDS)
            await asyncio.sleep(LISTEN_RETRY_SECONDS)

    async def _housekeeping(self) -> None:
        """Queue what the scans find (alerts.SCANS); once an hour, forget alerts older than the
        log's retention."""
        now = time.time()
        for scan in self._windows:
            await self._scan(scan, now)
        days = self.policy.settings.retention_days
        if days > 0 and now - self._purged > 3600:
            _, lost = await self.pool.run(lambda c: alerts.purge_old(c, now - days * 86400))
            if lost:
                log.warning("alerts: %d alerts never delivered are dropped: their events are past the log's "
                            "retention (%d days)", lost, days)
            self._purged = now

    async def _scan(self, scan: str, now: float) -> None:
        """Read the rows added since the look before last: each row is read in two looks, so a
        transaction that committed a little after a newer one (ids are handed out before commit)
        is still seen; a row read twice is queued once. A starting server reads a day back."""
        start, last_top = self._windows[scan]
        if start is None:
            start = await self.pool.run(lambda c: alerts.scan_start(c, scan, self._since))
        top = await self.pool.run(lambda c: alerts.scan_top(c, scan))

        def window(c: Conn) -> int:
            return alerts.enqueue_scan(c, self.routes, self.policy, scan, cur, top, now,
                                       self.settings.console_base_url)

        cur = start
        while cur < top:
            cur = await self.pool.run(window)
        self._windows[scan] = (last_top if last_top is not None else start, top)

    async def _idle(self) -> float:
        """Seconds until the next retry or digest is due (at most the poll interval; soon while
        rows a signal announced are not visible yet)."""
        poll = self.settings.poll_seconds
        now = time.monotonic()
        for scan, (upto, until) in list(self._expect.items()):
            seen = self._windows[scan][1]
            if (seen is not None and seen >= upto) or now > until:
                del self._expect[scan]
        if self._expect:
            poll = min(poll, SIGNAL_LOOK_SECONDS)
        try:
            due = await self.pool.run(lambda c: alerts.next_due(c, self.channels()))
        except ConnectionError:
            return poll
        return poll if due is None else max(0.05, min(poll, due - time.time()))

    async def send_due(self, http: aiohttp.ClientSession) -> int:
        """Deliver every due batch once; the number of alerts delivered."""
        await self._housekeeping()
        sent = 0
        while rows := await self.pool.run(lambda c: alerts.claim(c, time.time(), self.channels())):
            mail = [b for b in batches(rows) if b[0] == "email"]
            hooks = [b for b in batches(rows) if b[0] == "webhook"]
            results = await asyncio.gather(asyncio.to_thread(self._smtp, mail),
                                           *(self._post(http, b) for b in hooks))
            outcomes: list[tuple[Batch, str | None]] = [*results[0], *zip(hooks, results[1:], strict=True)]
            for batch, error in outcomes:
                await self._settle(batch, error)
                sent += 0 if error else len(batch[2])
            if len(rows) < 200:
                break
        return sent

    async def _settle(self, batch: Batch, error: str | None) -> None:
        now, s = time.time(), self.settings
        if error is None:
            await self.pool.run(lambda c: alerts.mark_sent(c, [r["id"] for r in batch[2]], now))
            return
        log.warning("alerts: %s to %s not delivered (%s); it stays in the outbox", batch[0], batch[1], error)
        await self.pool.run(lambda c: alerts.mark_failed(c, batch[2], now, error, s.retry_base_seconds,
                                                         s.retry_max_seconds))

    def _smtp(self, mail: list[Batch]) -> list[tuple[Batch, str | None]]:
        """Send every e-mail batch over one SMTP session (in a thread); each batch's error or None."""
        if not mail:
            return []
        s = self.settings
        messages = []
        for _, to, rows in mail:
            items = [alerts.Alert.from_payload(r["payload"]) for r in rows]
            messages.append(digest_message(items, s.mail_from, to, self.tz) if rows[0]["mode"] == "digest"
                            else one_message(items[0], s.mail_from, to, self.tz))
        return list(zip(mail, send_mail(s, messages), strict=True))

    async def _post(self, http: aiohttp.ClientSession, batch: Batch) -> str | None:
        """POST one webhook batch, signed; None on a 2xx answer."""
        _, url, rows = batch
        items = [alerts.Alert.from_payload(r["payload"]) for r in rows]
        body, event = webhook_body(items, digest=rows[0]["mode"] == "digest")
        return await post_webhook(http, url, self.settings.webhook_secret, body, event, f"{rows[0]['id']}-{len(rows)}")


ALERTER = web.AppKey("alerter", Alerter)
