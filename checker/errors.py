"""The error a policy folder raises when it cannot be used (its own module: everything imports it)."""

from __future__ import annotations

from typing import Any


class NotAnImage(ValueError):
    """Bytes that no image decoder accepts (here, not in imagematch: catching it needs no Pillow)."""


class PolicyError(ValueError):
    """A policy folder that cannot be used; the message names file, key and value."""


def field_error(file: str, key: str, problem: str, value: Any = None) -> PolicyError:
    """A PolicyError naming the file, the key and (when given) the bad value."""
    shown = "" if value is None else f" (got {value!r})"
    return PolicyError(f"{file}: {key}: {problem}{shown}")
