"""Following a policy folder that is swapped under a link (the agent's `STATE/policy/current`, see
docs/agent.md): every few seconds a service looks where its `--policy` path points; when that
changes (and at the first look, in case it changed while the service was starting), the folder's
digest is read, and when it differs from the policy in force the folder is loaded off the event
loop and handed to the service, which swaps it in without a restart. A folder that does not
load is logged and the policy in force stays. A path with no link in it is never read again
(editing a plain folder in place needs a restart, as before).
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Awaitable, Callable
from pathlib import Path

from checker import Policy, load_policy

WATCH_EVERY = 2.0  # seconds between looks at the link
log = logging.getLogger("postguard.policy")


def digest_of(folder: Path) -> str:
    """The policy digest of a folder (its files read and checked, no rule built)."""
    return load_policy(folder, checks=False).digest


async def follow(path: str | Path, in_force: Callable[[], str], load: Callable[[Path], Policy],
                 use: Callable[[Policy], Awaitable[None]], *, every: float = WATCH_EVERY) -> None:
    """Until cancelled: when `path` resolves to a folder whose digest is not `in_force()`, call
    `use(load(folder))` (loaded on a thread). Errors are logged; the service keeps its policy."""
    # A path with no link in it was loaded as it is: nothing to read until it turns into a link.
    seen: Path | None = Path(os.path.abspath(path)) if os.path.realpath(path) == os.path.abspath(path) else None
    while True:
        target = Path(os.path.realpath(path))
        if target != seen:
            try:
                if await asyncio.to_thread(digest_of, target) != in_force():
                    policy = await asyncio.to_thread(load, target)
                    await use(policy)
                    log.warning("policy %s (digest %s) in force from now on", target, policy.digest)
            except asyncio.CancelledError:
                raise
            except Exception as e:  # a broken folder: keep the policy in force, look again when it moves
                log.error("policy %s not taken, the one in force stays: %s: %s", target, type(e).__name__, e)
            seen = target
        await asyncio.sleep(every)
