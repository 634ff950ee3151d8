"""The checker is pure: it never imports mitmproxy or aiohttp, and does no I/O after load."""

from __future__ import annotations

import subprocess
import sys


def test_checker_imports_no_adapters():
    code = (
        "import sys, checker\n"
        "from checker import load_policy, check, Post\n"
        "check(Post(text='hi https://ctreg14.org'), load_policy())\n"
        "bad = [m for m in sys.modules if m.split('.')[0] in ('mitmproxy', 'aiohttp', 'store', 'console', 'proxy_addon', 'extension')]\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_no_file_or_network_access_after_load(monkeypatch):
    import builtins
    import socket

    from checker import Post, check, load_policy

    policy = load_policy()

    def forbidden(*a, **k):
        raise AssertionError("I/O after policy load")

    monkeypatch.setattr(builtins, "open", forbidden)
    monkeypatch.setattr(socket, "socket", forbidden)
    v = check(Post(text="Tyler Quinlan failed; see www.ctreg14.org and blog.wordpress.com/x"), policy)
    assert v.fired


def test_a_routing_policy_loads_no_models_and_no_database_driver():
    """`load_policy(checks=False)` (the proxy process when checks run in workers) and a SQLite
    store import neither numpy, Pillow nor psycopg; building the rules does import numpy."""
    heavy = "('numpy', 'PIL', 'psycopg', 'onnxruntime')"
    code = (
        "import sys, tempfile, os\n"
        "from checker import load_policy\n"
        "from store import StoreConfig, open_store\n"
        "p = load_policy(checks=False)\n"
        "assert not p.rules\n"
        "st = open_store(os.path.join(tempfile.mkdtemp(), 'l.sqlite'), StoreConfig('full', 30, None))\n"
        "st.close()\n"
        f"print(','.join(sorted({{m.split('.')[0] for m in sys.modules}} & set({heavy}))))\n"
        "load_policy()\n"
        f"print(','.join(sorted({{m.split('.')[0] for m in sys.modules}} & set({heavy}))))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    routing, full = out.stdout.rstrip("\n").split("\n")
    assert routing == ""
    assert "numpy" in full
