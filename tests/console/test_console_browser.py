"""A real headless Chromium (Debian's /usr/bin/chromium) driving `postguard console`:
sign in, filter, open an event by keyboard, mark it reviewed, export CSV; dashboard screenshot."""

from __future__ import annotations

import csv
import os
import random
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from console_helpers import PASSWORDS, SEED

from console.auth import add_user
from store import Event, StoreConfig, open_store

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
        "--disable-component-update", "--no-first-run", "--disable-sync"]
ROOT = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.browser, pytest.mark.slow]


def need_chromium() -> None:
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} is required in CI")
        pytest.skip(f"{CHROMIUM} not installed (set CI=1 to require it)")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def month_of_events(st: Any, n: int = 240) -> None:
    """A plausible month for the dashboard: mostly warnings, some overrides and blocks."""
    rnd = random.Random(14)
    rules = [("missing-disclaimer", "P2", 30), ("conduct", "P9", 18), ("student-privacy", "P5", 14),
             ("district-link", "P4", 9), ("prohibited-purpose", "D9", 6), ("personal-link", "D8", 4),
             ("district-logo", "P3", 4), ("directory-opt-out", "D7", 3)]
    weights = [w for *_, w in rules]
    now = time.time()
    for i in range(n):
        rule, clause, _ = rnd.choices(rules, weights)[0]
        action = rnd.choices(["warned", "overridden", "edited", "cancelled", "blocked", "logged"],
                             [40, 14, 20, 8, 10, 8])[0]
        st.append(Event(source=rnd.choice(["proxy", "extension"]), action=action,
                        site=rnd.choice(["www.facebook.com", "x.com", "www.instagram.com"]),
                        device=f"nhs-lab-{rnd.randint(1, 12):02d}", employee=f"staff{rnd.randint(1, 30):02d}",
                        time=now - (n - i) / n * 29 * 86400,
                        findings=[{"rule": rule, "clause": clause, "reason": "seeded", "score": 0.7}],
                        text=f"seeded post {i}"))


@pytest.fixture
def console_url(tmp_path: Path, config: StoreConfig) -> Iterator[str]:
    """`postguard console` as a real process on a free port, over a seeded log."""
    need_chromium()
    db = tmp_path / "log.sqlite"
    with open_store(str(db), config) as st:
        month_of_events(st)
        for e in SEED:
            e = dict(e)
            age = e.pop("age")
            st.append(Event(source="extension", time=time.time() - age * 86400 / 24, **e))
        add_user(st, "rita", "reviewer", PASSWORDS["rita"])
        assert st.flush()
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "postguard", "console", "--db", str(db),
                             "--listen", f"127.0.0.1:{port}"], cwd=tmp_path,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(200):
            try:
                urllib.request.urlopen(url + "/login", timeout=1)
                break
            except OSError:
                if proc.poll() is not None:
                    pytest.fail("console exited: " + proc.stderr.read().decode()[-2000:])
                time.sleep(0.1)
        yield url
    finally:
        proc.terminate()
        proc.wait(10)


def test_review_in_a_real_browser(console_url: str, tmp_path: Path, monkeypatch: Any) -> None:
    from playwright.sync_api import expect, sync_playwright

    monkeypatch.setenv("HOME", str(tmp_path))
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 900}, accept_downloads=True)
        page.goto(console_url + "/events")
        expect(page).to_have_url(f"{console_url}/login?next=/events")
        page.fill("input[name=username]", "rita")
        page.fill("input[name=password]", PASSWORDS["rita"])
        page.click("button[type=submit]")
        page.wait_for_load_state()
        assert page.locator(".alert").count() == 0, page.locator(".alert").inner_text()
        expect(page.locator("h1")).to_contain_text("Incidents")
        expect(page.locator("h1")).to_contain_text("America/New_York")  # times in the district's zone

        page.select_option("select[name=rule]", "student-privacy")
        page.fill("input[name=employee]", "a.teacher")
        page.select_option("select[name=status]", "open")
        page.click("form.filters button[type=submit]")
        rows = page.locator("#events tbody tr")
        expect(rows).to_have_count(1)

        page.keyboard.press("j")  # keyboard: select the first row, open it
        page.keyboard.press("Enter")
        expect(page.locator("#post mark")).to_have_text("[STUDENT] failed")
        expect(page.locator("#chain")).to_have_text("intact")
        expect(page.locator(".clause figcaption")).to_contain_text("clause P5")

        page.keyboard.press("1")  # reviewed
        page.keyboard.press("n")
        page.keyboard.type("Spoke with the teacher; post was never published.")
        page.click("#review button[type=submit]")
        expect(page.locator("#status")).to_have_text("reviewed")
        expect(page.locator(".history")).to_contain_text("Spoke with the teacher")

        page.click("#back")
        page.select_option("select[name=rule]", "student-privacy")
        page.fill("input[name=employee]", "a.teacher")
        page.select_option("select[name=status]", "reviewed")
        page.click("form.filters button[type=submit]")
        expect(rows).to_have_count(1)
        with page.expect_download() as dl:
            page.click("#export-csv")
        path = dl.value.path()
        got = list(csv.DictReader(open(path, encoding="utf-8")))
        assert [(r["rules"], r["review_status"]) for r in got] == [("student-privacy", "reviewed")]
        assert "Tyler" not in Path(path).read_text()

        page.click("nav a[href='/dashboard']")
        expect(page.locator("svg.chart")).to_have_count(4)
        to_review = int(page.locator("#stat-to-review").inner_text())
        assert 0 < to_review < 244  # incidents with findings nobody reviewed, not every event

        page.click("#stat-to-review")  # the queue: open incidents with findings, most urgent first
        expect(rows.first.locator(".badge").first).to_have_text("urgent")
        page.goto(console_url + "/events?employee=a.teacher&sort=newest")
        expect(rows).to_have_count(2)  # the reviewed student-privacy warning, the open missing disclaimer
        for box in page.locator("#events input[name=incident]").all():
            box.check()
        page.select_option("#bulk-status", "dismissed")
        page.fill("#bulk-note", "Both discussed at the staff meeting (fictional).")
        page.click("#bulk-review")
        expect(page.locator("#done")).to_contain_text("2 marked dismissed")
        expect(page.locator("#events .s-dismissed")).to_have_count(2)
        page.click("nav a[href='/dashboard']")
        expect(page.locator("#stat-to-review")).to_have_text(str(to_review - 1))
        shot = tmp_path / "console-dashboard.png"
        page.screenshot(path=str(shot), full_page=True)
        assert shot.stat().st_size > 10_000
        if os.environ.get("POSTGUARD_SAVE_SCREENSHOT"):
            shutil.copy(shot, ROOT / "docs" / "console-dashboard.png")
        browser.close()
