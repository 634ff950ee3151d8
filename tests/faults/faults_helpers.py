"""Helpers for the fault tests: the live-proxy harness of tests/proxy (loaded, not copied) and
a district rule that raises or hangs on a marker."""

from __future__ import annotations

import importlib.util
from pathlib import Path

_spec = importlib.util.spec_from_file_location("pg_faults_proxy_conftest",
                                               Path(__file__).resolve().parents[1] / "proxy" / "conftest.py")
assert _spec is not None and _spec.loader is not None
proxy = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(proxy)

RAISE, HANG = "FAULT-PROBE-RAISE", "FAULT-PROBE-HANG"
FAULT_RULE = f'''
"""A district rule for the fault tests only: it raises, or never returns, on a marker."""
import time

from checker.rule import Rule


class FaultProbe(Rule):
    id = "fault-probe"
    applies_to = ("personal", "sponsored")

    def check(self, post, ctx):
        if "{RAISE}" in post.text:
            raise RuntimeError("fault probe: the checker failed")
        if "{HANG}" in post.text:
            time.sleep(600)
        return []
'''


