"""Helpers for the fault tests: the live-proxy harness of tests/proxy (loaded, not copied) and
a district rule that raises or hangs on a marker."""

from __future__ import annotations

import importlib.util
import socket
import threading
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




class Relay:
    """A TCP relay on loopback in front of a server (PostgreSQL): `cut()` drops every connection
    and stops listening (the database "down" as a client sees it); `restore()` listens again on
    the same port."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.port = 0
        self._conns: list[socket.socket] = []
        self._lock = threading.Lock()
        self._listener: socket.socket | None = None
        self.restore()

    def restore(self) -> None:
        ls = socket.socket()
        ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        ls.bind(("127.0.0.1", self.port))
        ls.listen(64)
        self.port = ls.getsockname()[1]
        self._listener = ls
        threading.Thread(target=self._accept, args=(ls,), daemon=True).start()

    def _accept(self, ls: socket.socket) -> None:
        while True:
            try:
                client, _ = ls.accept()
            except OSError:
                return  # cut
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._conns += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def cut(self) -> None:
        if self._listener is not None:
            try:
                self._listener.shutdown(socket.SHUT_RDWR)  # wakes the accept() (close alone does not)
            except OSError:
                pass
            self._listener.close()
            self._listener = None
        with self._lock:
            conns, self._conns = self._conns, []
        for s in conns:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()
