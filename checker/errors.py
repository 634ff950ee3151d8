"""The error a policy folder raises when it cannot be used (its own module: everything imports it)."""

from __future__ import annotations


class PolicyError(ValueError):
    """A policy folder that cannot be used; the message names file, key and value."""
