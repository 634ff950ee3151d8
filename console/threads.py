"""Blocking store work, run off the event loop."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any


async def in_thread(fn: Callable[..., Any], *args: Any, **kw: Any) -> Any:
    """Run blocking store work off the event loop."""
    return await asyncio.to_thread(fn, *args, **kw)
