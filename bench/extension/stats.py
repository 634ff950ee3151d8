"""Percentiles for the extension benches."""

from __future__ import annotations

import statistics
from typing import Any


def pct(xs: list[float], p: float) -> float:
    """The p-th percentile (nearest rank) of xs."""
    s = sorted(xs)
    return s[min(len(s) - 1, max(0, round(p / 100 * len(s) + 0.5) - 1))]


def summary(xs: list[float]) -> dict[str, float]:
    """n, p50, p95, p99 and max in milliseconds."""
    return {"n": len(xs), "p50": round(pct(xs, 50), 2), "p95": round(pct(xs, 95), 2),
            "p99": round(pct(xs, 99), 2), "max": round(max(xs), 2), "mean": round(statistics.fmean(xs), 2)}


VIOLATION = "Nonnewaug Chargers kickoff tonight at 7pm!"


def measure(page: Any, clicks: int, warmup: int = 3) -> tuple[list[float], list[float], list[float]]:
    """On the local Facebook composer in `page`: Post click -> rendered panel (a violating post),
    click -> the site's own send handler (a clean post) and click -> an empty handler (the
    baseline), in ms on the page's clock; the first `warmup` rounds are not counted."""
    page.goto("https://www.facebook.com/")
    composer, post, like = page.locator("#composer"), page.locator("#post-btn"), page.locator("#like")
    panel, clean, empty = [], [], []
    for i in range(clicks + warmup):
        composer.click()
        page.keyboard.insert_text(VIOLATION)
        post.click()
        page.locator('postguard-panel [role="alertdialog"]').wait_for()
        t = page.evaluate("() => Number(document.querySelector('postguard-panel').dataset.shownAt) - window.__t0")
        page.keyboard.press("Escape")  # cancel; text stays
        page.locator("postguard-panel").wait_for(state="detached")
        page.evaluate("() => { window.__t1 = 0; }")
        like.click()
        page.wait_for_function("() => window.__t1 > 0")
        e = page.evaluate("() => window.__t1 - window.__t0")
        # a clean post: the check passes and the site's own handler sends it
        page.evaluate("() => { window.__t1 = 0; }")
        composer.click()
        page.keyboard.press("Control+A")
        page.keyboard.press("Backspace")
        page.keyboard.insert_text(f"Lovely sunset over the lake, evening {i}.")
        post.click()
        page.wait_for_function("() => window.__t1 > 0")
        c = page.evaluate("() => window.__t1 - window.__t0")
        if i >= warmup:
            panel.append(t)
            empty.append(e)
            clean.append(c)
    return panel, clean, empty
