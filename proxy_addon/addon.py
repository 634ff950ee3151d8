"""The postguard mitmproxy add-on: check post submissions to social sites, then warn, block or log.

Composed the way mitmproxy's own add-ons are: `PostguardAddon` declares the options and builds
one frozen settings object in `configure`; its `addons` are the parts that handle flows, in
order (the "Post anyway" endpoint answers before anything is checked):

- `overrides.OverrideEndpoint`: justified overrides of a warning;
- `inspector.Inspector`: size limits, the check (`worker.Checks`), and acting on the outcome
  that `enforce.decide` gives (responses in `responses`, events in `eventlog`).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

from mitmproxy import ctx, exceptions

from checker import Policy, Post, Verdict
from proxy_addon import reload, settings
from proxy_addon.eventlog import open_log
from proxy_addon.inspector import Inspector
from proxy_addon.overrides import OverrideEndpoint
from proxy_addon.policy_load import load_policy_folder as _load_policy
from proxy_addon.policy_load import social_hosts_regex
from proxy_addon.state import State
from proxy_addon.worker import Checks


class PostguardAddon:
    """Checks post submissions to social hosts against the Board policy and acts on the verdict."""

    def __init__(self, *, policy: Policy | None = None, store: Any = None,
                 checker: Callable[[Post, Policy], Verdict] | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        """`policy`, `store` and `checker` may be injected (tests); otherwise options decide."""
        self._policy_injected = policy is not None
        self._store_injected = store is not None
        self.state = State(Checks(checker), clock, policy, store=store)
        self.addons = [OverrideEndpoint(self.state), Inspector(self.state), self.state.staff]
        self._watch: asyncio.Task[None] | None = None

    @property
    def policy(self) -> Policy | None:
        """The policy in force."""
        return self.state.policy

    @property
    def settings(self) -> settings.ProxySettings:
        """The settings in force."""
        return self.state.settings

    def load(self, loader: Any) -> None:
        """Declare postguard's options."""
        settings.declare(loader)

    def configure(self, updated: set[str]) -> None:
        """Validate options once; raise OptionsError naming the bad value."""
        streaming = ctx.options.stream_large_bodies if "stream_large_bodies" in ctx.options else None
        if streaming:
            raise exceptions.OptionsError(
                f"stream_large_bodies={streaming!r} cannot be used with postguard: "
                "bodies above it are sent upstream before they can be checked; use "
                "postguard_max_body_bytes to cap sizes instead")
        st = self.state
        if not any(k.startswith("postguard_") for k in updated) and st.policy is not None:
            return
        opts = ctx.options
        reload = bool({"postguard_policy", "postguard_encoder", "postguard_workers"} & updated) or st.policy is None
        if not self._policy_injected and reload:
            # With check workers, this process only routes, answers and redacts: the workers
            # load the rules and models; without them, it checks on its own threads.
            in_process = opts.postguard_workers <= 0 or st.checks.injected
            policy = _load_policy(opts.postguard_policy, checks=in_process)
            if in_process and not opts.postguard_encoder:
                from checker.neural import disable_encoders

                disable_encoders(policy)
            st.set_policy(policy)
        assert st.policy is not None
        new = settings.build(opts, st.policy.settings)
        if new.workers != st.settings.workers or new.encoder != st.settings.encoder or reload or not st.checks.workers:
            st.checks.configure(st.policy, new.workers, new.encoder)
        st.settings = new
        st.overrides.window = new.override_window
        if not self._store_injected and ("postguard_db" in updated or st.store is None):
            open_log(st, opts.postguard_db)
        if opts.postguard_social_only and not opts.allow_hosts and not opts.ignore_hosts:
            # Nested update: mitmproxy runs configure again with {"allow_hosts"}; harmless.
            opts.update(allow_hosts=[social_hosts_regex(st.policy)])

    async def running(self) -> None:
        """Start the check workers with the proxy, not on the first post; follow the policy
        folder when it is swapped under its link (proxy_addon/reload.py)."""
        await self.state.checks.start()
        if not self._policy_injected and self._watch is None:
            self._watch = reload.watch(self.state)

    def done(self) -> None:
        """Flush the log and stop the check threads and processes."""
        if self._watch is not None:
            self._watch.cancel()
        self.state.checks.close()
        if self.state.store is not None and not self._store_injected:
            self.state.store.close()
