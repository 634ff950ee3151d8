"""The `[settings]` table of a policy's rules.toml, typed, each default written once here."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any, Literal, cast, get_args

ContentMode = Literal["none", "redacted", "full"]
FailMode = Literal["pass", "block"]
CONTENT_MODES: tuple[str, ...] = get_args(ContentMode)
FAIL_MODES: tuple[str, ...] = get_args(FailMode)


class SettingsError(ValueError):
    """A bad `[settings]` entry: `key` names it, the message says what is wrong."""

    def __init__(self, key: str, message: str, value: Any = None) -> None:
        super().__init__(message)
        self.key = key
        self.value = value


@dataclass(frozen=True)
class Settings:
    """How postguard applies the policy: what the log keeps, how long, and what happens on failure."""

    content: ContentMode = "redacted"          # what the log keeps of a post's text
    retention_days: int = 365                  # events older than this are purged (0: kept)
    fail_mode: FailMode = "pass"               # a post that cannot be checked: pass (logged) or block
    posting_fail_mode: FailMode = "block"      # the same on a known posting endpoint (a site spec's)
    override_window_seconds: int = 600         # how long a warning can be overridden
    max_body_bytes: int = 10 * 1024 * 1024     # larger request bodies to social hosts are refused
    check_timeout_ms: int = 2000               # give up checking a post after this long
    justification_min_chars: int = 10          # the shortest reason "Post anyway" accepts

    @classmethod
    def from_table(cls, table: Any) -> Settings:
        """Validate a `[settings]` table; unknown keys and bad values raise SettingsError."""
        if not isinstance(table, dict):
            raise SettingsError("settings", "must be a table", table)
        known = {f.name for f in fields(cls)}
        values: dict[str, Any] = {}
        for k, v in table.items():
            if k not in known:
                raise SettingsError(f"settings.{k}", f"unknown setting; known: {', '.join(sorted(known))}")
            if k == "content" and v not in CONTENT_MODES:
                raise SettingsError("settings.content", f"must be one of {', '.join(CONTENT_MODES)}", v)
            elif k in ("fail_mode", "posting_fail_mode") and v not in FAIL_MODES:
                raise SettingsError(f"settings.{k}", f"must be one of {', '.join(FAIL_MODES)}", v)
            elif k not in ("content", "fail_mode", "posting_fail_mode") and (not isinstance(v, int) or isinstance(v, bool) or v < 0):
                raise SettingsError(f"settings.{k}", "must be a non-negative integer", v)
            values[k] = v
        return cls(**values)


def fail_mode(value: str) -> FailMode:
    """`value` as a fail mode, or ValueError naming the choices."""
    if value not in FAIL_MODES:
        raise ValueError(f"must be one of {', '.join(FAIL_MODES)} (got {value!r})")
    return cast(FailMode, value)
