"""Console accounts (argon2 hashes), sessions and CSRF tokens, kept in the log's database."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from store import Store

ROLES = ("reviewer", "admin")
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


def tokens_match(a: str | None, b: str | None) -> bool:
    """Constant-time comparison of two tokens (False when either is missing)."""
    return bool(a) and bool(b) and hmac.compare_digest(str(a), str(b))
