#!/usr/bin/env python3
"""The extension's speed: Post click -> warning panel in real Chromium (target p95 <= 150 ms),
and the backend's POST /v1/check latency at 50 requests/s (target p99 <= 10 ms), each with a
baseline measured in the same run (a click on an empty handler; GET /healthz at the same rate).

Usage: bench/extension [--clicks N] [--seconds S] [--rate R] [--json]
(bench/extension/routes.py: Post -> panel through the agent's native host and the district server.)
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "extension"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import pg_harness as H  # noqa: E402
from stats import measure, summary  # noqa: E402

from checker import load_policy  # noqa: E402
from extension.backend import EXTENSION_ID, TOKEN_HEADER  # noqa: E402

TEXTS = [
    "Nonnewaug Chargers kickoff tonight at 7pm!",
    "Lovely sunset over the lake this evening.",
    "Tyler Quinlan failed the chemistry final again",
    "Vote for John Smith for state senate!",
    "Great turnout at the farmers market this morning, thanks everyone who came out",
    "Check out my new blog https://jdoe.wordpress.com/first-post about teaching",
    "You are such an idiot, nobody likes you",
    "Reminder: the Woodbury library book sale is Saturday from 9 to noon.",
]


def bench_browser(clicks: int) -> dict[str, dict[str, float]]:
    """Click -> panel, click -> clean post sent, and click -> empty handler, in real Chromium."""
    from playwright.sync_api import sync_playwright

    policy = load_policy(None)
    log = H.RecordingLog()
    servers = H.Servers(policy, log).start()
    profile = Path(tempfile.mkdtemp(prefix="pg-bench-profile-"))
    try:
        with sync_playwright() as p:
            ctx = H.launch(p, servers.site_port, profile)
            try:
                sw = H.service_worker(ctx)
                H.configure(sw, f"http://127.0.0.1:{servers.backend_port}", hints=False)
                panel, clean, empty = measure(ctx.new_page(), clicks)
            finally:
                ctx.close()
    finally:
        servers.stop()
        shutil.rmtree(profile, ignore_errors=True)
    return {"click_to_panel": summary(panel), "click_to_clean_post_sent": summary(clean),
            "click_to_empty_handler": summary(empty)}


def free_port() -> int:
    """A port nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def paced(url: str, method: str, bodies: list[dict] | None, rate: float, seconds: float,
                server: list[float] | None = None) -> list[float]:
    """Open-loop load: one request every 1/rate s (not waiting for answers); latencies in ms.
    With `server`, also collects the backend's own time from its Server-Timing header."""
    import aiohttp

    headers = {"Origin": f"chrome-extension://{EXTENSION_ID}", TOKEN_HEADER: H.TOKEN}
    out: list[float] = []
    async with aiohttp.ClientSession(headers=headers) as s:
        async def one(i: int) -> None:
            t = time.perf_counter()
            kw = {"json": bodies[i % len(bodies)]} if bodies else {}
            async with s.request(method, url, **kw) as r:
                await r.read()
                if r.status != 200:
                    raise RuntimeError(f"{url}: HTTP {r.status}: {await r.text()}")
                if server is not None:
                    server.append(float(r.headers["Server-Timing"].partition("dur=")[2]))
            out.append((time.perf_counter() - t) * 1000)

        n, start, tasks = int(rate * seconds), time.perf_counter(), []
        for i in range(n):
            delay = start + i / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(i)))
        await asyncio.gather(*tasks)
    return out


def bench_backend(rate: float, seconds: float) -> dict[str, dict[str, float]]:
    """`postguard backend` in its own process; /v1/check and /healthz at `rate` requests/s."""
    port, tmp = free_port(), Path(tempfile.mkdtemp(prefix="pg-bench-backend-"))
    env = {**os.environ, "POSTGUARD_BACKEND_TOKEN": H.TOKEN}
    proc = subprocess.Popen([str(ROOT / ".venv" / "bin" / "postguard"), "backend", "--listen", f"127.0.0.1:{port}",
                             "--db", str(tmp / "log.sqlite")], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                    break
            except OSError:
                time.sleep(0.1)
        # Every text unique (a counter appended), so the backend's verdict cache never hits:
        # this is the cost of a first check. `repeat` is the submit after a typing hint.
        n = int(rate * seconds) + 1
        unique = [{"text": f"{TEXTS[i % len(TEXTS)]} ({i})", "site": "www.facebook.com", "kind": "post"} for i in range(n)]
        repeat = [{"text": t, "site": "www.facebook.com", "kind": "post"} for t in TEXTS]
        asyncio.run(paced(base + "/v1/check", "POST", repeat, rate, 1.0))  # warm-up (and fills the cache)
        health = asyncio.run(paced(base + "/healthz", "GET", None, rate, seconds))
        own: list[float] = []
        checks = asyncio.run(paced(base + "/v1/check", "POST", unique, rate, seconds, own))
        cached = asyncio.run(paced(base + "/v1/check", "POST", repeat, rate, seconds / 2))
    finally:
        proc.terminate()
        proc.wait(10)
        shutil.rmtree(tmp, ignore_errors=True)
    return {"check": summary(checks), "check_server_time": summary(own), "check_cached": summary(cached), "healthz": summary(health)}


def main() -> int:
    """Run both benchmarks and print figures and ratios."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clicks", type=int, default=40)
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--rate", type=float, default=50.0)
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--skip-browser", action="store_true")
    a = ap.parse_args()
    load = os.getloadavg()
    res: dict[str, object] = {"load_average": load, "backend": bench_backend(a.rate, a.seconds)}
    if not a.skip_browser:
        res["browser"] = bench_browser(a.clicks)
    if a.json:
        print(json.dumps(res, indent=1))
        return 0
    b = res["backend"]
    print(f"load average before: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} on {os.cpu_count()} cores "
          "(other processes share the machine; compare ratios, not bare figures)")
    print(f"backend at {a.rate:g} req/s for {a.seconds:g} s (open loop, separate process):")
    for k in ("healthz", "check", "check_server_time", "check_cached"):
        s = b[k]
        print(f"  {k:17s} n={s['n']} p50={s['p50']} ms p95={s['p95']} ms p99={s['p99']} ms max={s['max']} ms")
    print(f"  /v1/check p99 = {b['check']['p99']} ms end to end, {b['check_server_time']['p99']} ms inside the "
          f"handler (target <= 10 ms); "
          f"ratio to /healthz p99 = {b['check']['p99'] / b['healthz']['p99']:.2f}x, p50 {b['check']['p50'] / b['healthz']['p50']:.2f}x")
    if "browser" in res:
        w = res["browser"]
        print(f"Chromium ({H.CHROMIUM}), {a.clicks} clicks on the local Facebook composer:")
        for k in ("click_to_empty_handler", "click_to_clean_post_sent", "click_to_panel"):
            s = w[k]
            print(f"  {k:25s} p50={s['p50']} ms p95={s['p95']} ms max={s['max']} ms")
        print(f"  click -> panel p95 = {w['click_to_panel']['p95']} ms (target <= 150 ms); ratio to the empty "
              f"handler p95 = {w['click_to_panel']['p95'] / max(w['click_to_empty_handler']['p95'], 0.01):.1f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
