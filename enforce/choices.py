"""The employee's choices: "Post anyway" needs a reason; what the extension reports, logged as."""

from __future__ import annotations

from checker.settings import Settings

# The employee's choice in the extension's panel -> the log's action vocabulary.
ACTION_OF_CHOICE: dict[str, str] = {
    "edited": "edited",
    "overridden": "overridden",
    "cancelled": "cancelled",
    "posted-clean": "passed",
    "logged": "logged",
    "blocked": "blocked",
    "unchecked": "error",  # sent while the backend was down; checked on arrival
}


def justification_error(justification: str | None, settings: Settings) -> str | None:
    """Why a "Post anyway" reason is refused, or None when it is long enough."""
    n = settings.justification_min_chars
    if len((justification or "").strip()) < n:
        return f"Please give a reason of at least {n} characters."
    return None
