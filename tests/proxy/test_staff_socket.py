"""The staff member of a proxied post: the OS account owning the client's socket (Linux
/proc/net/tcp{,6}), cached per connection, else the device's assigned user (postguard_staff)."""

from __future__ import annotations

import importlib.util
import json
import os
import pwd
import socket
import subprocess
import sys
import tempfile
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from proxy_addon.settings import DEFAULTS
from proxy_addon.staff import ConnectionStaff, socket_uid

# The live-proxy helpers of this folder's conftest (tests/ is never on sys.path).
_spec = importlib.util.spec_from_file_location("pg_proxy_helpers_staff", Path(__file__).with_name("conftest.py"))
assert _spec is not None and _spec.loader is not None
helpers = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(helpers)

ENROLLED = "r.fictional@ctreg14.org"  # fictional
CLIENT = r"""
import json, ssl, sys, urllib.request, urllib.error
spec = json.load(open(sys.argv[1]))
ctx = ssl.create_default_context(cafile=spec["ca"])
proxy = "http://127.0.0.1:%d" % spec["port"]
opener = urllib.request.build_opener(urllib.request.ProxyHandler({"https": proxy}),
                                     urllib.request.HTTPSHandler(context=ctx))
req = urllib.request.Request(spec["url"], data=spec["body"].encode(), method=spec["method"], headers=spec["headers"])
try:
    print(opener.open(req, timeout=60).status)
except urllib.error.HTTPError as e:
    print(e.code)
"""


def pair(family: int, host: str) -> tuple[socket.socket, socket.socket, socket.socket]:
    srv = socket.socket(family, socket.SOCK_STREAM)
    srv.bind((host, 0))
    srv.listen()
    cli = socket.create_connection(srv.getsockname()[:2])
    acc, _ = srv.accept()
    return srv, cli, acc


@pytest.mark.parametrize(("family", "host"), [(socket.AF_INET, "127.0.0.1"), (socket.AF_INET6, "::1")])
def test_the_owner_of_a_loopback_connection(family: int, host: str) -> None:
    try:
        srv, cli, acc = pair(family, host)
    except OSError:
        pytest.skip(f"no {host} loopback here")
    try:
        # What the proxy knows of the connection: the client's address (peer) and its own (sockname).
        assert socket_uid(acc.getpeername(), acc.getsockname()) == os.geteuid()
        assert socket_uid(acc.getsockname(), acc.getpeername()) == os.geteuid()  # the proxy's own end
        assert socket_uid(acc.getpeername(), ("127.0.0.2", 9)) is None  # no such connection
        assert socket_uid(("", 0), acc.getsockname()) is None  # not an address
    finally:
        for s in (cli, acc, srv):
            s.close()


def test_an_ipv4_client_of_a_dual_stack_listener() -> None:
    srv = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    srv.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    try:
        srv.bind(("::", 0))
    except OSError:
        pytest.skip("no IPv6 here")
    srv.listen()
    cli = socket.create_connection(("127.0.0.1", srv.getsockname()[1]))
    acc, peer = srv.accept()
    try:
        assert peer[0] == "::ffff:127.0.0.1"  # as mitmproxy sees it on a dual-stack socket
        assert socket_uid(peer, acc.getsockname()) == os.geteuid()
    finally:
        for s in (cli, acc, srv):
            s.close()


def test_cached_per_connection_and_forgotten_when_it_closes(tmp_path: Path) -> None:
    srv, cli, acc = pair(socket.AF_INET, "127.0.0.1")
    me = pwd.getpwuid(os.geteuid()).pw_name
    try:
        looked = ConnectionStaff()
        client = SimpleNamespace(id="c1", peername=acc.getpeername(), sockname=acc.getsockname())
        assert looked.of(client) == (me, "os-user")
        looked.tables = (str(tmp_path / "absent"),)  # the table is not read again for this connection
        assert looked.of(client) == (me, "os-user")
        looked.client_disconnected(client)
        assert looked.of(client) is None
    finally:
        for s in (cli, acc, srv):
            s.close()


def test_no_owner_falls_back_to_the_enrolled_user() -> None:
    from dataclasses import replace

    from proxy_addon.state import State
    from proxy_addon.worker import Checks

    st = State(Checks(None))
    far = SimpleNamespace(id="c2", peername=("192.0.2.7", 50000), sockname=("192.0.2.1", 8080))
    assert st.staff_of(far) == (None, None)
    st.settings = replace(DEFAULTS, staff=ENROLLED)
    assert st.staff_of(far) == (ENROLLED, "enrolment")
    assert st.staff_of(None) == (ENROLLED, "enrolment")


def test_a_bad_postguard_staff_option_is_refused() -> None:
    from mitmproxy import exceptions

    from proxy_addon.settings import build

    opts = SimpleNamespace(postguard_fail_mode="", postguard_posting_fail_mode="", postguard_max_body_bytes=0,
                           postguard_override_window=0, postguard_check_timeout_ms=0, postguard_workers=0,
                           postguard_override_origins=[], postguard_device="", postguard_employee="",
                           postguard_encoder=False, postguard_log_passed=False, postguard_staff="<x>")
    from checker.settings import Settings

    with pytest.raises(exceptions.OptionsError, match="postguard_staff: letters"):
        build(opts, Settings())
    opts.postguard_staff = ENROLLED
    assert build(opts, Settings()).staff == ENROLLED


@pytest.fixture(scope="module")
def staff_live(tmp_path_factory: Any) -> Any:
    if not Path(sys.executable).with_name("postguard").exists():
        pytest.skip("postguard console script not installed in this environment")
    lv = helpers.Live(tmp_path_factory.mktemp("staff"), ["bsky.social", "www.facebook.com"],
              extra_sets=(f"postguard_staff={ENROLLED}",))
    yield lv
    lv.stop()


def post_as(live: Any, user: str | None, tmp: Path) -> str:
    """POST a threat through the live proxy from a separate process (as `user`, when given)."""
    cases = helpers.load_cases()
    method, url, headers, body = cases.request("bluesky_post_createrecord", cases.THREAT)
    spec = tmp / "spec.json"
    ca = tmp / "ca.pem"
    ca.write_bytes(live.ca.read_bytes())
    spec.write_text(json.dumps({"ca": str(ca), "port": live.port, "method": method, "url": url,
                                "headers": {**headers, "sec-fetch-mode": "cors"}, "body": body.decode()}))
    for p in (tmp, ca, spec):
        p.chmod(0o755 if p.is_dir() else 0o644)
    pw = pwd.getpwnam(user) if user else None

    def drop() -> None:  # the client runs as that account, as a staff member's browser would
        if pw is not None:
            os.setgroups([])
            os.setgid(pw.pw_gid)
            os.setuid(pw.pw_uid)

    out = subprocess.run(["/usr/bin/python3", "-c", CLIENT, str(spec)], capture_output=True, text=True,
                         timeout=90, preexec_fn=drop, cwd="/")
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


def test_a_post_from_another_account_is_recorded_as_that_account(staff_live: Any) -> None:
    if os.geteuid() != 0:
        pytest.skip("needs root to run the client as another account")
    with tempfile.TemporaryDirectory() as d:
        assert post_as(staff_live, "nobody", Path(d)) == "403"  # warned
        assert post_as(staff_live, None, Path(d)) == "403"
    assert helpers.wait_for(lambda: len([e for e in staff_live.events() if e["site"] == "bsky.social"]) >= 2, 20), \
        "".join(staff_live.proxy.lines[-30:])
    got = [(e["staff"], e["staff_source"]) for e in staff_live.events() if e["site"] == "bsky.social"]
    me = pwd.getpwuid(os.geteuid()).pw_name
    assert got[:2] == [("nobody", "os-user"), (me, "os-user")]
    assert all(e["staff"] != ENROLLED for e in staff_live.events())  # the socket told, so not the fallback
