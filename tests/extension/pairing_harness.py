"""Chromium with the extension and nothing configured in it: the fixture sites, a real
`postguard backend` process (what the agent runs), the native messaging host registered in the
profile, and a real `postguard server` for the Chromebook path. Used by test_pairing*,
test_chromebook* and bench/extension/routes.py."""

from __future__ import annotations

import asyncio
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from aiohttp import web

sys.path.insert(0, str(Path(__file__).resolve().parent))
import pg_harness as H

from agent.native_messaging import host_manifest_bytes, launcher_script
from extension.backend import EXTENSION_ID
from extension.native_host import HOST_NAME

ROOT = H.ROOT
PAIRING_TOKEN = "pairing-test-token-0123456789"  # fictional


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Sites:
    """The fixture composers over HTTPS at the real host names, on a background loop."""

    def __init__(self) -> None:
        self.tmp = Path(tempfile.mkdtemp(prefix="pg-sites-"))
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.port = 0
        self.runner: web.AppRunner | None = None

    def start(self) -> Sites:
        self.thread.start()
        cert, key = H.make_cert(self.tmp, list(H.PAGES))
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(cert, key)

        async def serve() -> int:
            self.runner = web.AppRunner(H.sites_app(), access_log=None)
            await self.runner.setup()
            site = web.TCPSite(self.runner, "127.0.0.1", 0, ssl_context=ctx)
            await site.start()
            return self.runner.addresses[0][1]

        self.port = asyncio.run_coroutine_threadsafe(serve(), self.loop).result(30)
        return self

    def stop(self) -> None:
        if self.runner is not None:
            asyncio.run_coroutine_threadsafe(self.runner.cleanup(), self.loop).result(30)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


def wait_http(url: str, timeout: float = 60.0, proc: subprocess.Popen | None = None) -> None:
    """Until `url` answers at all (any status)."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"{proc.args[3:5]} exited with {proc.returncode}")
        try:
            urllib.request.urlopen(url, timeout=2).read()
            return
        except urllib.error.HTTPError:
            return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer in {timeout:.0f} s")


def until(get: Any, seconds: float = 20.0, step: float = 0.1) -> Any:
    """Call `get` until it returns something true (writes land in other processes); its last value."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if got := get():
            return got
        time.sleep(step)
    return get()


class Service:
    """A `postguard` command as its own process, in `folder`, listening on `host`:`port`."""

    def __init__(self, folder: Path, host: str = "127.0.0.1") -> None:
        self.folder, self.host, self.port = folder, host, free_port()
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def spawn(self, *argv: str, probe: str, timeout: float = 60.0) -> None:
        """Start `postguard ARGV` and wait until `probe` (a path) answers."""
        self.proc = subprocess.Popen([sys.executable, "-m", "postguard", *argv], cwd=self.folder,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        wait_http(self.url + probe, timeout=timeout, proc=self.proc)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(30)


class Backend(Service):
    """`postguard backend` as its own process, as `postguard agent run` starts it."""

    def __init__(self, folder: Path) -> None:
        super().__init__(folder)
        self.token_file = folder / "backend.token"
        self.db = folder / "queue.sqlite"

    def start(self) -> Backend:
        self.token_file.write_text(PAIRING_TOKEN + "\n", encoding="utf-8")
        self.token_file.chmod(0o600)
        self.spawn("backend", "--listen", f"127.0.0.1:{self.port}", "--token-file", str(self.token_file),
                   "--db", str(self.db), probe="/healthz")
        return self

    def events(self) -> list[dict[str, Any]]:
        """The events in the backend's log, oldest first."""
        return events_in(self.db)


def register_host(profile: Path, backend_url: str, token_file: Path, extension_ids: tuple[str, ...] = (EXTENSION_ID,)) -> Path:
    """The host manifest and launcher, as `postguard agent install` writes them, in the profile's
    per-user folder (Chromium reads `<user-data-dir>/NativeMessagingHosts/` on Linux)."""
    folder = profile / "NativeMessagingHosts"
    folder.mkdir(parents=True, exist_ok=True)
    launcher = profile.parent / f"{profile.name}-native-host"
    launcher.write_bytes(launcher_script(sys.executable, backend_url, str(token_file)))
    launcher.chmod(0o755)
    (folder / f"{HOST_NAME}.json").write_bytes(host_manifest_bytes(str(launcher), extension_ids))
    return launcher


def popup_status(ctx: Any) -> dict[str, str]:
    """The popup's status lines, as the person sees them."""
    page = ctx.new_page()
    try:
        page.goto(f"chrome-extension://{EXTENSION_ID}/popup/popup.html")
        page.wait_for_function("() => document.getElementById('status').dataset.problem !== undefined")
        return page.evaluate("""() => ({status: document.getElementById('status').innerText,
                                        problem: document.getElementById('status').dataset.problem,
                                        it: document.getElementById('it').innerText})""")
    finally:
        page.close()


def dev_config(sw: Any, **cfg: Any) -> None:
    """The managed-settings test hook: storage.local `pgConfig`, honoured in full only by an unpacked
    (development) install (chrome.storage.managed cannot be set from a test)."""
    sw.evaluate("cfg => chrome.storage.local.set({pgConfig: cfg, pgQueue: []})", cfg)


class Server(Service):
    """`postguard server` as its own process on a SQLite file, at 127.0.0.2 (loopback, but outside
    the extension's host permissions, so the browser applies CORS as it would to a district
    server's real address)."""

    def __init__(self, folder: Path) -> None:
        super().__init__(folder, host="127.0.0.2")
        self.db = folder / "server.sqlite"

    def start(self) -> Server:
        self.spawn("server", "--db", str(self.db), "--listen", f"{self.host}:{self.port}",
                   "--signing-key", str(self.folder / "signing.key"), probe="/login")
        return self

    def cli(self, *argv: str) -> str:
        """`postguard ARGV --db <the server's database>`: its standard output."""
        return subprocess.run([sys.executable, "-m", "postguard", *argv, "--db", str(self.db)], cwd=self.folder,
                              check=True, capture_output=True, text=True).stdout

    def group_key(self, name: str) -> str:
        """A new extension group and its key, made as the admin would."""
        import json

        return json.loads(self.cli("extension-groups", "create", name, "--json"))["key"]

    def events(self) -> list[dict[str, Any]]:
        """The server log's events from extensions, oldest first."""
        return [e for e in events_in(self.db) if e["source"] == "extension"]


class Agent(Service):
    """`postguard agent enroll` with `server`, then `postguard agent run --no-proxy` as its own process:
    the extension backend writing to the agent's queue, the forwarder uploading to the server."""

    def __init__(self, folder: Path, server: Server) -> None:
        super().__init__(folder)
        self.server = server
        self.state = folder / "state"
        self.token_file = folder / "pairing.token"  # as install writes /etc/postguard/pairing.token

    def start(self) -> Agent:
        import json

        code = json.loads(self.server.cli("devices", "enroll-code", "--json"))["codes"][0]
        subprocess.run([sys.executable, "-m", "postguard", "agent", "enroll", self.server.url, code, "--state",
                        str(self.state), "--hostname", "pc-lab-1"], cwd=self.folder, check=True,
                       capture_output=True, timeout=120)
        self.device = json.loads((self.state / "device.json").read_text())["device_id"]
        self.token_file.write_text(PAIRING_TOKEN + "\n", encoding="utf-8")
        self.spawn("agent", "run", "--state", str(self.state), "--no-proxy", "--backend-listen",
                   f"127.0.0.1:{self.port}", "--token-file", str(self.token_file), probe="/healthz", timeout=120)
        return self


def events_in(db: Path) -> list[dict[str, Any]]:
    """Every event in the log at `db`, oldest first (read with the store, as `postguard logs`)."""
    from checker import load_policy
    from enforce import log_config
    from store import open_store

    with open_store(str(db), log_config(load_policy(None))) as st:
        return list(st.iter_events())


@contextmanager
def running(kind: type) -> Iterator[Any]:
    """A started Backend or Server in a folder of its own, stopped and removed afterwards."""
    folder = Path(tempfile.mkdtemp(prefix=f"pg-{kind.__name__.lower()}-"))
    proc = kind(folder).start()
    try:
        yield proc
    finally:
        proc.stop()
        shutil.rmtree(folder, ignore_errors=True)
