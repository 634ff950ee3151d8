"""The proxy's side of the interception log: open it from the options and append outcomes.

A post is answered (blocked, warned, or sent on to the site) only once its event is durable:
`record` waits, without blocking mitmproxy's event loop, until the store has committed it or
written it to its fsynced spool (`store.writer.Pending`; at most about a second, then the event
is spooled here). Only social hosts' submissions have events, so no other traffic waits.
"""

from __future__ import annotations

import logging
from typing import Any

from mitmproxy import exceptions, http

from enforce import Outcome, event_for, log_config
from proxy_addon.state import State

log = logging.getLogger("postguard.proxy")


def open_log(state: State, db: str) -> None:
    """Open the log named by the `postguard_db` option (closing the previous one)."""
    from store import open_store  # imported late: the store pulls in database drivers

    old = state.store
    assert state.policy is not None
    try:
        state.store = open_store(db or None, log_config(state.policy))
    except Exception as e:  # any driver/path error, named for the user
        raise exceptions.OptionsError(f"postguard_db: cannot open {db or 'the default log'!r}: {e}") from None
    if old is not None:
        old.close()


async def record(state: State, flow: http.HTTPFlow, outcome: Outcome, *, action: str | None = None,
                 justification: str | None = None, request_id: str | None = None, url: str | None = None) -> None:
    """Append the event of `outcome` (its log action unless `action` says otherwise) and wait
    until it is durable; the caller answers the post after this returns."""
    action = action or outcome.log
    if state.store is None or state.policy is None or action is None:
        return
    sub, st = outcome.submission, state.settings
    staff, staff_source = state.staff_of(flow.client_conn)
    try:
        pending = state.store.submit(event_for(
            "proxy", action, outcome.verdict, policy_digest=state.policy.digest,
            site=sub.site if sub else flow.request.pretty_host, url=url or flow.request.pretty_url,
            target=sub.target if sub else None, kind=sub.kind if sub else None,
            text=sub.text if sub else None, justification=justification, error=outcome.error,
            request_id=request_id, device=st.device, employee=st.employee, staff=staff, staff_source=staff_source))
    except Exception:  # the log spools on failure; a bug here must not drop the user's post
        log.exception("postguard: could not append an event")
        return
    from store.writer import durable  # imported late, as in open_log

    try:
        await durable([pending])
    except Exception:  # neither the database nor the spool took it (the store says why, loudly)
        log.error("postguard: event %s is not durable (held in memory only); the post is answered", pending.uid)


def record_attempt(state: State, host: str, error: str, client: Any = None) -> None:
    """Append an error event for a connection to a social host that could not be inspected
    (TLS interception refused: a pinned certificate, or the proxy's CA not trusted): whatever
    was posted on it left no other trace. Never raises; nothing is answered, so nothing waits
    for it to be durable."""
    if state.store is None or state.policy is None:
        return
    st = state.settings
    staff, staff_source = state.staff_of(client)
    try:
        state.store.append(event_for(
            "proxy", "error", None, policy_digest=state.policy.digest, site=host, url=f"https://{host}/",
            error=error, device=st.device, employee=st.employee, staff=staff, staff_source=staff_source))
    except Exception:
        log.exception("postguard: could not append an event")
