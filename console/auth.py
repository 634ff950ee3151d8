"""Console accounts (argon2 hashes), sessions and CSRF tokens, kept in the log's database."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from store import Store
from store.event import iso

ROLES = ("reviewer", "admin")
# The password hash of an account the identity provider vouches for (OpenID Connect): argon2
# cannot verify it, so no password ever opens such an account.
EXTERNAL_PASSWORD = "!oidc"
MIN_PASSWORD = 10
_HASHER = PasswordHasher()
# Verified when the user does not exist, so a wrong name takes as long as a wrong password.
_DUMMY_HASH = _HASHER.hash("postguard-no-such-user")


@dataclass(frozen=True)
class User:
    """A signed-in console user."""

    name: str
    role: str
    csrf: str

    @property
    def is_admin(self) -> bool:
        """Admins also see the audit trail and run chain verification."""
        return self.role == "admin"


def valid_name(name: str) -> bool:
    """User names: 1-64 letters, digits, dot, dash, underscore, at."""
    return 0 < len(name) <= 64 and all(c.isalnum() or c in "._-@" for c in name)


def add_user(st: Store, name: str, role: str, password: str) -> bool:
    """Create a user or reset an existing one's role and password; True when created."""
    if not valid_name(name):
        raise ValueError("user name: 1-64 letters, digits, '.', '-', '_' or '@'")
    if role not in ROLES:
        raise ValueError(f"role: one of {', '.join(ROLES)}")
    if len(password) < MIN_PASSWORD:
        raise ValueError(f"password: at least {MIN_PASSWORD} characters")
    return st.save_user(name, role, _HASHER.hash(password), actor="cli")


def check_password(st: Store, name: str, password: str) -> str | None:
    """The user's role when the password is right, else None."""
    row = st.user_credentials(name)
    try:
        _HASHER.verify(row["pw_hash"] if row else _DUMMY_HASH, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return None
    return row["role"] if row else None


def sign_in_external(st: Store, name: str, role: str, pw_hash: str, via: str) -> str:
    """Record an account the identity provider vouches for: create its row with `pw_hash` (one
    argon2 never matches, so it has no password here), or bring its role up to date. Returns
    "created", "updated" or "same", or, refusing, "local" (a password account has this name) or
    "disabled". Unlike add_user, existing sessions stay (they follow the role); audited."""
    def run(c: Any) -> str:
        with c.write():
            row = c.one("SELECT role, pw_hash, disabled FROM users WHERE name = ?", (name,))
            if row is not None and row["pw_hash"] != pw_hash:
                return "local"
            if row is not None and row["disabled"]:
                return "disabled"
            if row is None:
                c.execute("INSERT INTO users (name, role, pw_hash, created) VALUES (?, ?, ?, ?)",
                          (name, role, pw_hash, iso(None)))
                c.execute("INSERT INTO audit (ts, actor, action, detail) VALUES (?, ?, ?, ?)",
                          (iso(None), via, "user:add", f"{name} ({role})"))
                return "created"
            if row["role"] != role:
                c.execute("UPDATE users SET role = ? WHERE name = ?", (role, name))
                c.execute("INSERT INTO audit (ts, actor, action, detail) VALUES (?, ?, ?, ?)",
                          (iso(None), via, "user:role", f"{name} ({row['role']} -> {role})"))
                return "updated"
            return "same"
    return str(st.write(run))


def _token_hash(token: str) -> str:
    # Only a hash of the cookie is stored: a copy of the database does not yield live sessions.
    return hashlib.sha256(token.encode()).hexdigest()


def new_session(st: Store, name: str, hours: float) -> str:
    """Start a session; return the cookie token."""
    token = secrets.token_urlsafe(32)
    st.start_session(_token_hash(token), name, secrets.token_urlsafe(32), time.time(), hours)
    return token


def session_user(st: Store, token: str | None) -> User | None:
    """The user behind a session cookie, if the session is live and the user enabled."""
    if not token or len(token) > 200:
        return None
    row = st.live_session(_token_hash(token))
    return None if row is None else User(row["username"], row["role"], row["csrf"])


def end_session(st: Store, token: str | None) -> None:
    """Sign out."""
    if token:
        st.end_session(_token_hash(token))


class LoginThrottle:
    """Failed sign-ins counted per client and user name, and per client across names.

    A name alone is not the key: anyone could otherwise keep the admin locked out from
    anywhere, and one client trying one password on every name (spraying) would never be
    stopped. Here a client is locked out of one account after `per_account` failures, and out of
    every account after `per_client` failures on any names, for `seconds`; the account itself
    stays open to everyone else. Bounded: the oldest entries are forgotten first."""

    MAX_ENTRIES = 100_000

    def __init__(self, per_account: int, per_client: int, seconds: float) -> None:
        self.per_account, self.per_client, self.seconds = per_account, per_client, seconds
        self._fails: dict[tuple[str, str], tuple[int, float]] = {}  # (client, name or "") -> (count, since)

    def _count(self, key: tuple[str, str], now: float) -> int:
        count, since = self._fails.get(key, (0, now))
        return count if now - since < self.seconds else 0

    def locked(self, client: str, name: str, now: float) -> bool:
        """Whether this client may not try this name now."""
        return (self._count((client, name.lower()), now) >= self.per_account
                or self._count((client, ""), now) >= self.per_client)

    def failed(self, client: str, name: str, now: float) -> None:
        """Count a failure."""
        for key in ((client, name.lower()), (client, "")):
            count, since = self._fails.pop(key, (0, now))
            if now - since >= self.seconds:
                count, since = 0, now
            self._fails[key] = (count + 1, since)
        while len(self._fails) > self.MAX_ENTRIES:
            self._fails.pop(next(iter(self._fails)))

    def succeeded(self, client: str, name: str) -> None:
        """A right password: this client's count for the name starts again (not its spraying count)."""
        self._fails.pop((client, name.lower()), None)


def set_user_disabled(st: Store, name: str, disabled: bool, actor: str) -> bool:
    """Disable (signing the user out) or enable an account; False when there is no such user."""
    def run(c: Any) -> bool:
        with c.write():
            if c.scalar("SELECT 1 FROM users WHERE name = ?", (name,)) is None:
                return False
            c.execute("UPDATE users SET disabled = ? WHERE name = ?", (1 if disabled else 0, name))
            if disabled:
                c.execute("DELETE FROM sessions WHERE username = ?", (name,))
            c.execute("INSERT INTO audit (ts, actor, action, detail) VALUES (?, ?, ?, ?)",
                      (iso(None), actor, "user:disable" if disabled else "user:enable", name))
        return True
    return bool(st.write(run))


def remove_user(st: Store, name: str, actor: str) -> bool:
    """Delete an account and its sessions (the audit trail keeps its name); False when unknown."""
    def run(c: Any) -> bool:
        with c.write():
            if c.scalar("SELECT 1 FROM users WHERE name = ?", (name,)) is None:
                return False
            c.execute("DELETE FROM sessions WHERE username = ?", (name,))
            c.execute("DELETE FROM users WHERE name = ?", (name,))
            c.execute("INSERT INTO audit (ts, actor, action, detail) VALUES (?, ?, ?, ?)",
                      (iso(None), actor, "user:remove", name))
        return True
    return bool(st.write(run))


def list_users(st: Store) -> list[dict[str, Any]]:
    """Every account: name, role, created, disabled, and whether it signs in with the district's
    account (`external`; never the hash)."""
    return st.read(lambda c: c.all("SELECT name, role, created, disabled, pw_hash = ? AS external FROM users "
                                   "ORDER BY name", (EXTERNAL_PASSWORD,)))


def tokens_match(a: str | None, b: str | None) -> bool:
    """Constant-time comparison of two tokens (False when either is missing)."""
    return bool(a) and bool(b) and hmac.compare_digest(str(a), str(b))
