"""pinterest specs."""

from __future__ import annotations
