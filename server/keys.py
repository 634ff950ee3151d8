"""What the server keeps on its aiohttp application (typed keys)."""

from __future__ import annotations

from aiohttp import web
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from server.auth import Verifier
from server.config import ServerConfig
from server.pool import DbPool
from server.served_policy import ServedPolicy
from server.state import ServerState

SERVER = web.AppKey("server_config", ServerConfig)
VERIFIER = web.AppKey("verifier", Verifier)
POOL = web.AppKey("db_pool", DbPool)        # uploads (batches of events)
LIGHT = web.AppKey("db_pool_light", DbPool)  # heartbeats, enrolment, key look-ups: never queued behind uploads
STATE = web.AppKey("server_state", ServerState)
SIGNING_KEY = web.AppKey("signing_key", Ed25519PrivateKey)
SERVED = web.AppKey("served_policy", ServedPolicy)  # what the extension API checks with (the newest bundle)
