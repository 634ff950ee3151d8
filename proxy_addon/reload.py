"""A new policy for the running proxy without a restart: when the `postguard_policy` folder is
swapped under its link (the agent's STATE/policy/current), `enforce.policy_watch.follow` loads
it and `use_policy` puts it in force: a new pool of check workers is warmed on it first
(`Checks.swap`: checks in flight finish on the old workers), then the add-on's policy and
settings, and the decrypted hosts when the proxy had derived them from the policy."""

from __future__ import annotations

import asyncio
from pathlib import Path

from mitmproxy import ctx

from checker import DEFAULT_POLICY_DIR, Policy
from enforce.policy_watch import follow
from proxy_addon import settings
from proxy_addon.policy_load import load_policy_folder, social_hosts_regex
from proxy_addon.state import State


def _load(folder: Path, in_process: bool, encoder: bool) -> Policy:
    policy = load_policy_folder(str(folder), checks=in_process)
    if in_process and not encoder:
        from checker.neural import disable_encoders

        disable_encoders(policy)
    return policy


async def use_policy(st: State, policy: Policy) -> None:
    """Put `policy` in force: workers first (they may fail to start: nothing changes then)."""
    old = st.policy
    await st.checks.swap(policy)
    opts = ctx.options
    st.set_policy(policy)
    st.settings = settings.build(opts, policy.settings)
    st.overrides.window = st.settings.override_window
    if old is not None and opts.allow_hosts and opts.allow_hosts[0] == social_hosts_regex(old):
        opts.update(allow_hosts=[social_hosts_regex(policy), *opts.allow_hosts[1:]])


def watch(st: State) -> asyncio.Task[None]:
    """Follow the `postguard_policy` folder until the task is cancelled."""
    opts = ctx.options
    in_process = opts.postguard_workers <= 0 or st.checks.injected
    encoder = opts.postguard_encoder
    return asyncio.get_running_loop().create_task(
        follow(opts.postguard_policy or DEFAULT_POLICY_DIR, lambda: st.policy.digest if st.policy else "",
               lambda folder: _load(folder, in_process, encoder), lambda p: use_policy(st, p)),
        name="postguard-policy-watch")
