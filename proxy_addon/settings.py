"""The add-on's options, and the one frozen settings object `configure` builds from them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from mitmproxy import exceptions

from checker.settings import FailMode, Settings, fail_mode


@dataclass(frozen=True)
class ProxySettings:
    """What the hooks read, decided once per configure (options over the policy's settings)."""

    fail_mode: FailMode
    posting_fail_mode: FailMode   # a known posting endpoint's (site spec's) own fail mode
    max_body: int                 # bytes; larger bodies to social hosts get a 413
    timeout: float                # seconds a check may take
    override_window: float        # seconds
    override_origins: tuple[str, ...]
    device: str
    employee: str
    workers: int                  # check processes (0: threads in the proxy process)
    encoder: bool
    log_passed: bool
    staff: str = ""               # the device's assigned user (agent enroll --user)


_POLICY_DEFAULTS = Settings()
DEFAULTS = ProxySettings("pass", "block", _POLICY_DEFAULTS.max_body_bytes, _POLICY_DEFAULTS.check_timeout_ms / 1000,
                         float(_POLICY_DEFAULTS.override_window_seconds), (), "", "", 2, True, False)


def declare(loader: Any) -> None:
    """Declare postguard's options (0 or empty = take the value from the policy)."""
    loader.add_option("postguard_policy", str, "", "Policy folder (default: policies/region14).")
    loader.add_option("postguard_db", str, "",
                      "Interception log: SQLite path or postgresql:// URL (default: $POSTGUARD_DB "
                      "or ./var/postguard.sqlite).")
    loader.add_option("postguard_fail_mode", str, "",
                      "When a post cannot be checked (checker error, timeout, unreadable body): "
                      "pass (and log an error) or block. Empty: the policy's fail_mode.")
    loader.add_option("postguard_posting_fail_mode", str, "",
                      "The same on a known posting endpoint (a site spec matches its host and path): "
                      "block or pass. Empty: the policy's posting_fail_mode (default block).")
    loader.add_option("postguard_max_body_bytes", int, 0,
                      "Refuse (413) request bodies to social hosts above this. 0: the policy's value.")
    loader.add_option("postguard_override_window", int, 0,
                      "Seconds a warning can be overridden and the override stays valid. 0: the policy's.")
    loader.add_option("postguard_check_timeout_ms", int, 0,
                      "Give up checking a post after this many ms (then the fail mode applies). 0: policy.")
    loader.add_option("postguard_override_origins", Sequence[str], [],
                      "If set, a JSON (fetch) \"Post anyway\" must come with one of these Origin headers, "
                      "e.g. chrome-extension://<postguard extension id>, so a site's own scripts "
                      "cannot override a warning by themselves. Repeat for several.")
    loader.add_option("postguard_device", str, "", "Device id recorded with each event.")
    loader.add_option("postguard_employee", str, "", "Employee id recorded with each event.")
    loader.add_option("postguard_staff", str, "",
                      "The device's assigned user (an e-mail address or account name), recorded as the "
                      "staff member of events whose connection's OS account cannot be told.")
    loader.add_option("postguard_workers", int, 2,
                      "Processes that extract and check posts, one post at a time each; a check past "
                      "postguard_check_timeout_ms is killed with its process, which is replaced "
                      "(0: threads inside the proxy process, which cannot be stopped).")
    loader.add_option("postguard_encoder", bool, True,
                      "Check with the policy's text encoder (docs/models.md). false: rules and linear "
                      "models only, about 1.7 ms less CPU per checked post, less judgement.")
    loader.add_option("postguard_log_passed", bool, False,
                      "Also log clean submissions (action passed). Off by default: the log keeps "
                      "what the policy flagged, not every post an employee makes.")
    loader.add_option("postguard_social_only", bool, True,
                      "If neither allow_hosts nor ignore_hosts is set, set allow_hosts to the "
                      "policy's social hosts so nothing else is decrypted.")


def build(opts: Any, policy_settings: Settings) -> ProxySettings:
    """The settings for these options and policy; OptionsError names a bad value."""
    try:
        fail = fail_mode(opts.postguard_fail_mode or policy_settings.fail_mode)
    except ValueError as e:
        raise exceptions.OptionsError(f"postguard_fail_mode: {e}") from None
    try:
        posting = fail_mode(opts.postguard_posting_fail_mode or policy_settings.posting_fail_mode)
    except ValueError as e:
        raise exceptions.OptionsError(f"postguard_posting_fail_mode: {e}") from None
    for name in ("postguard_max_body_bytes", "postguard_override_window", "postguard_check_timeout_ms",
                 "postguard_workers"):
        if getattr(opts, name) < 0:
            raise exceptions.OptionsError(f"{name}: must be 0 (policy value) or positive "
                                          f"(got {getattr(opts, name)!r})")
    if opts.postguard_staff:
        from store.event import check_staff

        try:
            check_staff(opts.postguard_staff, "enrolment")
        except ValueError as e:
            raise exceptions.OptionsError(f"postguard_{e}") from None
    st = policy_settings
    return ProxySettings(
        fail_mode=fail,
        posting_fail_mode=posting,
        max_body=opts.postguard_max_body_bytes or st.max_body_bytes,
        timeout=(opts.postguard_check_timeout_ms or st.check_timeout_ms) / 1000,
        override_window=float(opts.postguard_override_window or st.override_window_seconds),
        override_origins=tuple(opts.postguard_override_origins),
        device=opts.postguard_device, employee=opts.postguard_employee,
        workers=opts.postguard_workers, encoder=opts.postguard_encoder,
        log_passed=opts.postguard_log_passed, staff=opts.postguard_staff)
