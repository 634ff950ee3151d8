"""OpenID Connect sign-in settings (`ConsoleConfig.extra["oidc"]`), the role mapping, and the
per-browser state of one sign-in (state, nonce, PKCE verifier) kept in a short-lived cookie.

The identity provider's side (discovery, JWKS, token exchange, ID-token checks) is in
`console.oidc_client`; the routes are in `console.views.signin`."""

from __future__ import annotations

import base64
import ipaddress
import json
import os
import re
import secrets
import time
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from authlib.oauth2.rfc7636 import create_s256_code_challenge  # type: ignore[import-untyped]

CALLBACK_PATH = "/login/oidc/callback"
FLOW_COOKIE = "pg_oidc"
FLOW_SECONDS = 600  # a sign-in must come back from the provider within ten minutes
TOKEN_AUTH = ("client_secret_basic", "client_secret_post")
_KEYS = {"issuer", "client_id", "client_secret_file", "client_secret_env", "redirect_url", "scopes", "label",
         "username_claim", "groups_claim", "require", "admin_groups", "reviewer_groups", "admin_users",
         "reviewer_users", "token_auth", "require_verified_email"}
_TOKEN = re.compile(r"[A-Za-z0-9_-]{20,200}")


class OidcError(Exception):
    """A sign-in refused or failed: `message` is shown to the user, `reason` goes to the audit trail."""

    def __init__(self, message: str, reason: str, status: int = 403) -> None:
        super().__init__(reason)
        self.message, self.reason, self.status = message, reason, status


@dataclass(frozen=True)
class OidcSettings:
    """One identity provider (Google Workspace, Microsoft Entra, any OpenID Connect provider)."""

    issuer: str
    client_id: str
    client_secret: str
    redirect_url: str
    scopes: tuple[str, ...] = ("openid", "email", "profile")
    label: str = "your district account"
    username_claim: str = "email"
    groups_claim: str = "groups"
    require: tuple[tuple[str, str], ...] = ()  # claims that must have these values (Google: hd; Entra: tid)
    admin_groups: frozenset[str] = frozenset()
    reviewer_groups: frozenset[str] = frozenset()
    admin_users: frozenset[str] = frozenset()
    reviewer_users: frozenset[str] = frozenset()
    token_auth: str = "client_secret_basic"
    require_verified_email: bool = True

    def __repr__(self) -> str:  # never the secret, not even in a traceback
        return f"OidcSettings(issuer={self.issuer!r}, client_id={self.client_id!r})"


def _loopback(host: str | None) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host or "").is_loopback
    except ValueError:
        return False


def check_url(name: str, value: Any) -> str:
    """An https URL (http only on loopback, where the tests' provider runs)."""
    if not isinstance(value, str) or not value:
        raise ValueError(f"oidc.{name}: required (a URL)")
    parts = urlsplit(value)
    if parts.scheme != "https" and not (parts.scheme == "http" and _loopback(parts.hostname)):
        raise ValueError(f"oidc.{name}: must be an https:// URL, got {value!r}")
    if not parts.hostname or parts.fragment or parts.username:
        raise ValueError(f"oidc.{name}: not a usable URL: {value!r}")
    return value


def _strings(name: str, value: Any, lower: bool = False) -> frozenset[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise ValueError(f"oidc.{name}: a list of non-empty strings")
    return frozenset(v.strip().lower() if lower else v.strip() for v in value)


def _secret(raw: Mapping[str, Any], base: Path | None) -> str:
    if path := raw.get("client_secret_file"):
        p = Path(path) if base is None or Path(path).is_absolute() else base / path
        try:
            secret = p.read_text(encoding="utf-8").strip()
        except OSError as e:
            raise ValueError(f"oidc.client_secret_file: cannot read {p}: {e.strerror}") from None
    elif env := raw.get("client_secret_env"):
        secret = os.environ.get(str(env), "").strip()
        if not secret:
            raise ValueError(f"oidc.client_secret_env: the environment variable {env} is not set")
    else:
        raise ValueError("oidc: client_secret_file or client_secret_env is required")
    if not secret:
        raise ValueError("oidc: the client secret is empty")
    return secret


def load_settings(raw: Mapping[str, Any], base: Path | None = None) -> OidcSettings:
    """Check the `[oidc]` settings and read the client secret; ValueError says what is wrong.
    `base`: the folder a relative client_secret_file is read from (the settings file's)."""
    if not isinstance(raw, Mapping):
        raise ValueError("oidc: a table of settings")
    if "client_secret" in raw:  # first: a secret in a file that may be shared is the worst mistake
        raise ValueError("oidc.client_secret: never in the settings file; use client_secret_file or client_secret_env")
    if unknown := sorted(set(raw) - _KEYS):
        raise ValueError(f"oidc: unknown setting(s) {', '.join(unknown)}; known: {', '.join(sorted(_KEYS))}")
    redirect = check_url("redirect_url", raw.get("redirect_url"))
    if urlsplit(redirect).path != CALLBACK_PATH or urlsplit(redirect).query:
        raise ValueError(f"oidc.redirect_url: must be the console's {CALLBACK_PATH}, got {redirect!r}")
    client_id = raw.get("client_id")
    if not isinstance(client_id, str) or not client_id.strip():
        raise ValueError("oidc.client_id: required")
    scopes = tuple(sorted(_strings("scopes", raw.get("scopes", ["openid", "email", "profile"]))))
    if "openid" not in scopes:
        raise ValueError("oidc.scopes: must include openid")
    require = raw.get("require", {})
    if not isinstance(require, Mapping) or not all(isinstance(v, str) for v in require.values()):
        raise ValueError("oidc.require: a table of claim = \"value\"")
    if not isinstance(raw.get("require_verified_email", True), bool):
        raise ValueError("oidc.require_verified_email: true or false")
    if raw.get("token_auth", TOKEN_AUTH[0]) not in TOKEN_AUTH:
        raise ValueError(f"oidc.token_auth: one of {', '.join(TOKEN_AUTH)}")
    s = OidcSettings(
        issuer=check_url("issuer", raw.get("issuer")),  # exactly as the provider writes it in iss
        client_id=client_id.strip(), client_secret=_secret(raw, base), redirect_url=redirect, scopes=scopes,
        label=str(raw.get("label") or OidcSettings.label), username_claim=str(raw.get("username_claim", "email")),
        groups_claim=str(raw.get("groups_claim", "groups")), require=tuple(sorted(require.items())),
        admin_groups=_strings("admin_groups", raw.get("admin_groups", [])),
        reviewer_groups=_strings("reviewer_groups", raw.get("reviewer_groups", [])),
        admin_users=_strings("admin_users", raw.get("admin_users", []), lower=True),
        reviewer_users=_strings("reviewer_users", raw.get("reviewer_users", []), lower=True),
        token_auth=str(raw.get("token_auth", TOKEN_AUTH[0])),
        require_verified_email=bool(raw.get("require_verified_email", True)))
    if not (s.admin_groups or s.reviewer_groups or s.admin_users or s.reviewer_users):
        raise ValueError("oidc: no one could sign in; set admin_groups/reviewer_groups or admin_users/reviewer_users")
    return s


def load_file(path: str | Path) -> dict[str, Any]:
    """The raw `[oidc]` table of a TOML settings file (checked later by `load_settings`), with the
    file's folder remembered for a relative client_secret_file."""
    p = Path(path)
    try:
        data = tomllib.loads(p.read_text(encoding="utf-8"))
    except OSError as e:
        raise ValueError(f"{p}: {e.strerror}") from None
    except tomllib.TOMLDecodeError as e:
        raise ValueError(f"{p}: not valid TOML: {e}") from None
    if not isinstance(data.get("oidc"), dict):
        raise ValueError(f"{p}: no [oidc] table")
    return {**data["oidc"], "_base": str(p.resolve().parent)}


def settings_from(extra: Mapping[str, Any]) -> OidcSettings | None:
    """The settings in `ConsoleConfig.extra["oidc"]`, or None when sign-in with OIDC is off."""
    raw = extra.get("oidc")
    if not raw:
        return None
    raw = dict(raw)
    base = raw.pop("_base", None)
    return load_settings(raw, Path(base) if base else None)


# -- the user behind an ID token ------------------------------------------------------------------
def username_of(s: OidcSettings, claims: Mapping[str, Any]) -> str:
    """The console user name (lower case) the verified claims stand for; OidcError when unusable."""
    for claim, value in s.require:
        if claims.get(claim) != value:
            raise OidcError("This account is not from the district's directory.", f"claim {claim} is not {value!r}")
    name = claims.get(s.username_claim)
    if not isinstance(name, str) or not name.strip():
        raise OidcError("The identity provider did not say who you are.", f"no {s.username_claim} claim")
    if s.username_claim == "email" and s.require_verified_email and claims.get("email_verified") is not True:
        raise OidcError("Your e-mail address is not verified with the identity provider.", "email not verified")
    return name.strip().lower()


def role_of(s: OidcSettings, name: str, claims: Mapping[str, Any]) -> str | None:
    """admin or reviewer (admin wins) by group claim or by user list; None when unmapped."""
    if s.admin_groups or s.reviewer_groups:
        if s.groups_claim not in claims and s.groups_claim in (claims.get("_claim_names") or {}):
            # Entra's "group overage": more groups than fit in a token; the app must be limited to
            # the groups assigned to it (docs/oidc.md).
            raise OidcError("Your account is in too many groups for the sign-in token; ask IT to limit the "
                            "token to the groups assigned to postguard.", "groups overage")
    groups = claims.get(s.groups_claim) or []
    groups = {g for g in groups if isinstance(g, str)} if isinstance(groups, list) else set()
    if name in s.admin_users or groups & s.admin_groups:
        return "admin"
    if name in s.reviewer_users or groups & s.reviewer_groups:
        return "reviewer"
    return None


# -- one sign-in's state, in the browser ----------------------------------------------------------
@dataclass(frozen=True)
class Flow:
    """What the callback must match: state (the query), nonce (the ID token), PKCE verifier (the
    token request), where to go afterwards, and when it started."""

    state: str
    nonce: str
    verifier: str
    next: str
    started: float

    @classmethod
    def start(cls, next_: str) -> Flow:
        return cls(secrets.token_urlsafe(32), secrets.token_urlsafe(32), secrets.token_urlsafe(48), next_,
                   time.time())

    @property
    def challenge(self) -> str:
        return create_s256_code_challenge(self.verifier)

    def cookie(self) -> str:
        data = json.dumps([self.state, self.nonce, self.verifier, self.next, int(self.started)])
        return base64.urlsafe_b64encode(data.encode()).decode().rstrip("=")

    @classmethod
    def from_cookie(cls, value: str | None, now: float | None = None) -> Flow | None:
        """The flow in a cookie, or None when missing, malformed or older than FLOW_SECONDS."""
        if not value or len(value) > 2000:
            return None
        try:
            state, nonce, verifier, next_, started = json.loads(base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)))
        except (ValueError, TypeError):
            return None
        if not all(isinstance(t, str) and _TOKEN.fullmatch(t) for t in (state, nonce, verifier)):
            return None
        if not isinstance(next_, str) or not isinstance(started, int):
            return None
        if not 0 <= (now if now is not None else time.time()) - started <= FLOW_SECONDS:
            return None
        return cls(state, nonce, verifier, next_, float(started))
