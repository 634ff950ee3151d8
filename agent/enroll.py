"""`postguard agent enroll URL CODE`: make this computer's Ed25519 key, register its public half
with a one-time code, and keep the key (0600), the device id and the server's public key (pinned:
only policy bundles it signed are accepted) in the state folder."""

from __future__ import annotations

import asyncio
import base64
import binascii
import os
import socket

import aiohttp
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from agent.ca import enrolment_ca
from agent.client import check_server_url, enroll, network_error, tls_context
from agent.queue import stats
from agent.state import Device, StateDir, StateError, new_key
from store.db import Conn, migrate
from store.event import check_staff


def enroll_device(state: StateDir, url: str, code: str, *, version: str, hostname: str | None = None,
                  name: str | None = None, ca_file: str | None = None, force: bool = False,
                  user: str | None = None) -> Device:
    """Enrol and save; StateError with a message for the person at the keyboard otherwise.
    `user` is the staff member assigned to this computer (events name them when neither the
    browser profile nor the connection's OS account does)."""
    try:
        server = check_server_url(url)
        ctx = tls_context(ca_file)
    except ValueError as e:
        raise StateError(str(e)) from None
    if user is not None:
        try:
            check_staff(user, "enrolment")
        except ValueError as e:
            raise StateError(f"--user{str(e).removeprefix('staff')}") from None
    if state.enrolled() and not force:
        old = state.load_device()
        raise StateError(f"already enrolled as {old.device_id} with {old.server} (--force enrols again, "
                         f"with a new key and device id)")
    if not code.strip():
        raise StateError("the enrolment code is empty")
    state.ensure()
    key = new_key()
    # The key is on disk (owner-only) before the one-time code is spent, so a full disk or a
    # folder we cannot write shows up while the code is still good.
    staged = state.save_key(key, state.root / "device.key.new")
    host = hostname or socket.gethostname() or "device"
    try:
        reply = asyncio.run(enroll(server, code.strip(), key, hostname=host, name=name, agent_version=version,
                                   ssl_context=ctx))
    except (TimeoutError, aiohttp.ClientError, OSError) as e:
        staged.unlink(missing_ok=True)
        raise StateError(f"cannot reach {server}: {network_error(e)}") from None
    if reply.status != 201 or not isinstance(reply.body.get("device_id"), str):
        staged.unlink(missing_ok=True)
        if reply.status == 403:
            raise StateError("the server refused the code: unknown, already used or expired (ask IT for a new one)")
        raise StateError(f"enrolment failed: the server answered {reply.status} {reply.error}".rstrip())
    interval = reply.body.get("heartbeat_interval")
    server_key = reply.body.get("server_key")
    if server_key is not None and not _is_public_key(server_key):
        staged.unlink(missing_ok=True)
        raise StateError("enrolment failed: the server's key in its answer is not an Ed25519 public key")
    device = Device(server=server, device_id=reply.body["device_id"], hostname=host,
                    enrolled_at=str(reply.body.get("server_time") or ""),
                    heartbeat_interval=interval if isinstance(interval, int) else 300,
                    ca_file=os.path.abspath(ca_file) if ca_file else None, server_key=server_key, user=user)
    os.replace(staged, state.key_file)
    state.save_device(device)
    enrolment_ca(state, device.device_id)  # the proxy's CA, name constrained to the social domains (agent/ca.py)
    return device


def _is_public_key(v: object) -> bool:
    """Whether `v` is base64 of a raw 32-byte Ed25519 public key."""
    try:
        raw = base64.b64decode(str(v), validate=True)
        Ed25519PublicKey.from_public_bytes(raw)
    except (binascii.Error, ValueError):
        return False
    return isinstance(v, str)


def waiting_under_other_ids(state: StateDir, device_id: str) -> int:
    """Rows in the queue under another device id (an earlier enrolment's, not yet uploaded)."""
    if not state.queue.exists():
        return 0
    conn = Conn(str(state.queue))
    try:
        migrate(conn)
        return stats(conn, device_id).foreign
    finally:
        conn.close()
