"""The native messaging host as the browser runs it: its own process on stdin/stdout with the
length-prefixed framing, relaying to a real `postguard backend` process."""

from __future__ import annotations

import json
import struct
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
import pairing_harness as PH

from extension.backend import EXTENSION_ID
from extension.native_host import MAX_IN, encode_message

ORIGIN = f"chrome-extension://{EXTENSION_ID}/"
INSULT = "You are a pathetic idiot and everyone at this school knows it"


@pytest.fixture(scope="module")
def backend():
    with PH.running(PH.Backend) as proc:
        yield proc


class Host:
    """`python -m postguard native-host` in its own process, spoken to as the browser does."""

    def __init__(self, backend_url: str, token_file: Path, origin: str | None = ORIGIN) -> None:
        argv = [sys.executable, "-m", "postguard", "native-host", "--backend", backend_url,
                "--token-file", str(token_file), *([origin] if origin else [])]
        self.p = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)

    def send(self, obj) -> None:
        self.p.stdin.write(encode_message(obj) if not isinstance(obj, bytes) else obj)
        self.p.stdin.flush()

    def read(self):
        head = self.p.stdout.read(4)
        assert len(head) == 4, self.p.stderr.read().decode()
        (n,) = struct.unpack("=I", head)
        return json.loads(self.p.stdout.read(n))

    def close(self) -> tuple[int, str]:
        self.p.stdin.close()
        rc = self.p.wait(30)
        return rc, self.p.stderr.read().decode()


def test_relays_checks_events_and_policy(backend):
    h = Host(backend.url, backend.token_file)
    h.send({"id": 1, "path": "/v1/check", "body": {"text": INSULT, "site": "x.com"}})
    h.send({"id": 2, "path": "/v1/policy", "body": {}})
    h.send({"id": 3, "path": "/v1/events", "body": {"choice": "edited", "text": INSULT, "site": "x.com"}})
    got = {m["id"]: m for m in (h.read(), h.read(), h.read())}  # answered concurrently, in any order
    assert got[1]["status"] == 200 and "conduct" in got[1]["data"]["fired"]
    assert got[2]["status"] == 200 and got[2]["data"]["district"] == "Regional School District No. 14"
    assert got[3]["status"] == 201 and len(got[3]["data"]["ids"]) == 1
    assert h.close() == (0, "")  # the browser closed the port: the host ends, and says nothing of posts
    evs = PH.until(backend.events)
    assert any(e["action"] == "edited" and "conduct" in e["rules"] for e in evs)


def test_a_bad_request_is_answered_not_relayed(backend):
    h = Host(backend.url, backend.token_file)
    h.send({"id": 1, "path": "/healthz", "body": {}})           # not one of the relayed paths
    h.send({"id": 2, "path": "/v1/check", "body": "not an object"})
    h.send({"id": 3, "path": "/v1/check", "body": {"site": "x.com"}})  # the backend's own 400
    got = {m["id"]: m for m in (h.read(), h.read(), h.read())}
    assert got[1]["status"] == 400 and "relays only" in got[1]["data"]["error"]
    assert got[2]["status"] == 400
    assert got[3]["status"] == 400 and "body.text" in json.dumps(got[3]["data"])
    assert h.close()[0] == 0


def test_an_oversized_or_broken_frame_ends_the_host(backend):
    h = Host(backend.url, backend.token_file)
    h.send(struct.pack("=I", MAX_IN + 1))
    rc, err = h.close()
    assert rc == 1 and "unreadable message" in err
    h = Host(backend.url, backend.token_file)
    h.send(struct.pack("=I", 5) + b"{nope")
    rc, err = h.close()
    assert rc == 1 and "unreadable message" in err


def test_not_started_by_a_browser_it_refuses(backend):
    h = Host(backend.url, backend.token_file, origin=None)
    rc, err = h.close()
    assert rc == 2 and "chrome-extension://ID/" in err
    h = Host(backend.url, backend.token_file, origin="https://www.facebook.com/")
    assert h.close()[0] == 2


def test_says_what_is_wrong_when_the_agent_cannot_be_asked(backend, tmp_path):
    down = Host(f"http://127.0.0.1:{PH.free_port()}", backend.token_file)
    down.send({"id": 1, "path": "/v1/check", "body": {"text": "hi", "site": "x.com"}})
    m = down.read()
    assert (m["status"], m["problem"]) == (0, "agent-down") and "not running" in m["error"]
    down.close()
    missing = Host(backend.url, tmp_path / "no-such-token")
    missing.send({"id": 1, "path": "/v1/check", "body": {"text": "hi", "site": "x.com"}})
    assert missing.read()["problem"] == "not-paired"
    missing.close()
    wrong = tmp_path / "wrong"
    wrong.write_text("wrong-token-0123456789abcdef\n")
    refused = Host(backend.url, wrong)
    refused.send({"id": 1, "path": "/v1/check", "body": {"text": "hi", "site": "x.com"}})
    m = refused.read()
    assert m["problem"] == "not-paired" and "refused the pairing token" in m["error"]
    refused.close()


def test_only_a_loopback_backend(backend):
    h = Host("http://192.0.2.1:8731", backend.token_file)
    rc, err = h.close()
    assert rc == 2 and "loopback" in err
