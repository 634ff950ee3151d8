"""`postguard native-host`: the Chrome/Edge native messaging host that pairs the extension with the
agent on the same computer, with nothing to configure in the browser.

The browser starts this program (as the signed-in user) when the extension calls
`chrome.runtime.connectNative("org.postguard.agent")`, and only for the extension ids the host
manifest lists in `allowed_origins`; web pages and other extensions cannot start it. Messages are
JSON, each preceded by its length (4 bytes, native byte order). A request
`{"id": n, "path": "/v1/check", "body": {...}}` is relayed to the local backend with the
extension's Origin and the pairing token read from `--token-file`; the answer is
`{"id": n, "status": 201, "data": {...}}`, or `{"id": n, "status": 0, "problem": "agent-down" |
"not-paired", "error": "..."}` when the backend cannot be asked.

Only the standard library is imported, so the browser waits a fraction of a second for it to
start. Nothing of a post is ever written to stderr (the browser keeps it in its log).
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import struct
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, BinaryIO
from urllib.parse import urlsplit

HOST_NAME = "org.postguard.agent"
TOKEN_HEADER = "X-Postguard-Token"
DEFAULT_BACKEND = "http://127.0.0.1:8731"
DEFAULT_TOKEN_FILE = "/var/lib/postguard/backend.token"
PATHS = frozenset({"/v1/check", "/v1/events", "/v1/policy"})  # nothing else of the backend is relayed
MAX_IN = 16 << 20   # a check with ten images stays well under this
MAX_OUT = 1 << 20   # the browser's limit for one message from a host
ORIGIN = re.compile(r"^chrome-extension://([a-p]{32})/?$")
LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})


class HostError(Exception):
    """The host cannot start as asked (bad arguments); the message says why."""


def read_message(stream: BinaryIO) -> Any:
    """One message from the browser, or None at end of input (the browser closed the port)."""
    head = stream.read(4)
    if len(head) < 4:
        return None
    (size,) = struct.unpack("=I", head)
    if size > MAX_IN:
        raise ValueError(f"message of {size:,} bytes is larger than {MAX_IN:,}")
    data = stream.read(size)
    if len(data) < size:
        return None
    return json.loads(data.decode("utf-8"))


def encode_message(obj: Any) -> bytes:
    """A message for the browser: length (native byte order) and compact JSON."""
    data = json.dumps(obj, separators=(",", ":")).encode("utf-8")
    return struct.pack("=I", len(data)) + data


class Relay:
    """Relays the extension's requests to the backend at `backend` with `origin` and the token."""

    def __init__(self, backend: str, token_file: Path, origin: str, timeout: float = 10.0) -> None:
        u = urlsplit(backend)
        if u.scheme != "http" or u.hostname not in LOOPBACK or u.path not in ("", "/"):
            raise HostError(f"--backend: an http:// loopback address such as {DEFAULT_BACKEND} (got {backend!r})")
        self.host, self.port = u.hostname, u.port or 80
        self.netloc = f"{'[::1]' if self.host == '::1' else self.host}:{self.port}"
        self.token_file, self.origin, self.timeout = token_file, origin, timeout
        self._local = threading.local()
        self._token: str | None = None

    def token(self) -> str | None:
        if self._token is None:
            try:
                t = self.token_file.read_text(encoding="utf-8").strip()
            except OSError:
                return None
            self._token = t or None
        return self._token

    def _conn(self) -> http.client.HTTPConnection:
        c = getattr(self._local, "conn", None)
        if c is None:
            c = self._local.conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
        return c

    def _post(self, path: str, body: bytes, token: str) -> tuple[int, bytes]:
        headers = {"Content-Type": "application/json", "Origin": self.origin, TOKEN_HEADER: token,
                   "Host": self.netloc}
        for attempt in (1, 2):  # a kept-alive connection the backend closed meanwhile: once more, fresh
            c = self._conn()
            try:
                c.request("POST", path, body=body, headers=headers)
                r = c.getresponse()
                return r.status, r.read()
            except (http.client.HTTPException, ConnectionResetError, BrokenPipeError):
                c.close()
                self._local.conn = None
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def answer(self, msg: Any) -> dict[str, Any]:
        """The answer to one message from the extension."""
        mid = msg.get("id") if isinstance(msg, dict) else None
        if not isinstance(msg, dict) or msg.get("path") not in PATHS or not isinstance(msg.get("body", {}), dict):
            return {"id": mid, "status": 400, "data": {"error": f"the host relays only {', '.join(sorted(PATHS))} "
                                                                "with a JSON object body"}}
        token = self.token()
        if token is None:
            return {"id": mid, "status": 0, "problem": "not-paired",
                    "error": f"no pairing token readable at {self.token_file} (is the agent installed, "
                             "and has it started once?)"}
        try:
            status, raw = self._post(msg["path"], json.dumps(msg.get("body", {})).encode("utf-8"), token)
        except (OSError, http.client.HTTPException) as e:
            self._token = None  # read again next time: the agent may have been re-installed
            return {"id": mid, "status": 0, "problem": "agent-down",
                    "error": f"the postguard agent is not running: nothing answers at {self.netloc} "
                             f"({type(e).__name__})"}
        try:
            data = json.loads(raw.decode("utf-8")) if raw else {}
        except (UnicodeDecodeError, ValueError):
            data = {"error": f"the backend answered {status} with a body that is not JSON"}
        if status == 401:
            self._token = None
            return {"id": mid, "status": 0, "problem": "not-paired",
                    "error": f"the agent refused the pairing token in {self.token_file}"}
        out = {"id": mid, "status": status, "data": data}
        if len(encode_message(out)) > MAX_OUT:
            return {"id": mid, "status": 502, "data": {"error": "the backend's answer is too large to relay"}}
        return out


def serve(relay: Relay, stdin: BinaryIO, stdout: BinaryIO, workers: int = 4) -> int:
    """Answer messages until the browser closes the port; several at once (a typing hint must not
    wait behind a check with images)."""
    lock = threading.Lock()

    def one(msg: Any) -> None:
        try:
            out = relay.answer(msg)
        except Exception as e:  # never die on one message: say what kind of failure, not its content
            out = {"id": msg.get("id") if isinstance(msg, dict) else None, "status": 500,
                   "data": {"error": f"native host error: {type(e).__name__}"}}
        data = encode_message(out)
        with lock:
            stdout.write(data)
            stdout.flush()

    with ThreadPoolExecutor(workers, thread_name_prefix="postguard-native") as pool:
        while True:
            try:
                msg = read_message(stdin)
            except (ValueError, UnicodeDecodeError) as e:
                print(f"postguard native-host: unreadable message ({type(e).__name__}); closing", file=sys.stderr)
                return 1
            if msg is None:
                return 0
            pool.submit(one, msg)


def parser() -> argparse.ArgumentParser:
    """The host's options (shared by `postguard native-host` and `python -m extension.native_host`)."""
    p = argparse.ArgumentParser(prog="postguard native-host", description=__doc__.splitlines()[0])
    add_arguments(p)
    return p


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--backend", default=os.environ.get("POSTGUARD_BACKEND_URL", DEFAULT_BACKEND),
                   help=f"the agent's extension backend (default $POSTGUARD_BACKEND_URL or {DEFAULT_BACKEND})")
    p.add_argument("--token-file", default=os.environ.get("POSTGUARD_PAIRING_TOKEN", DEFAULT_TOKEN_FILE),
                   metavar="FILE", help="the pairing token the backend was started with "
                   f"(default $POSTGUARD_PAIRING_TOKEN or {DEFAULT_TOKEN_FILE})")
    p.add_argument("--parent-window", help=argparse.SUPPRESS)  # Chrome on Windows adds it; unused
    p.add_argument("origin", nargs="?", help="the caller, chrome-extension://ID/ (the browser passes it)")


def run(args: argparse.Namespace) -> int:
    """Serve the browser on stdin/stdout."""
    m = ORIGIN.match(args.origin or "")
    if not m:
        raise HostError("started without a chrome-extension://ID/ caller: the browser starts this host "
                        "(see docs/extension.md, pairing)")
    relay = Relay(args.backend, Path(args.token_file), f"chrome-extension://{m.group(1)}")
    return serve(relay, sys.stdin.buffer, sys.stdout.buffer)


def main(argv: list[str] | None = None) -> int:
    """`python -m extension.native_host [--backend URL] [--token-file F] ORIGIN` (the browser adds
    ORIGIN, and on Windows --parent-window=N, which is ignored)."""
    args, _unknown = parser().parse_known_args(argv)
    try:
        return run(args)
    except HostError as e:
        print(f"postguard native-host: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
