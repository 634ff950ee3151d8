"""The identity provider, as the console talks to it: discovery (`.well-known/openid-configuration`),
its signing keys (JWKS, cached, fetched again for a new key id), the authorization-code request with
PKCE (S256), the token request, and the ID token's checks through authlib: signature by an
asymmetric algorithm the provider announces, iss, aud (this client only), azp, exp, iat and nonce."""

from __future__ import annotations

import base64
import json
import time
from typing import Any
from urllib.parse import quote_plus, urlencode

import aiohttp
from aiohttp import web
from authlib.jose import JsonWebKey, JsonWebToken  # type: ignore[import-untyped]
from authlib.jose.errors import JoseError  # type: ignore[import-untyped]
from authlib.oidc.core import CodeIDToken  # type: ignore[import-untyped]

from console.oidc import Flow, OidcError, OidcSettings, check_url

ASYMMETRIC = frozenset({"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512"})
MAX_BODY = 512 * 1024
METADATA_SECONDS = 3600.0
KEYS_SECONDS = 3600.0
KEYS_REFETCH_SECONDS = 30.0  # an unknown key id fetches the JWKS again, at most this often
LEEWAY = 60  # seconds of clock difference allowed on exp / iat
_UNREACHABLE = "The district's sign-in service could not be reached; try again in a minute."
_UNVERIFIED = "The sign-in could not be verified. Try again; if it keeps failing, tell IT."


class Provider:
    """One OpenID Connect provider for one console (one HTTP client; close() when the app stops)."""

    def __init__(self, settings: OidcSettings, timeout: float = 10.0) -> None:
        self.s = settings
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._http: aiohttp.ClientSession | None = None
        self._meta: dict[str, Any] | None = None
        self._meta_at = 0.0
        self._keys: dict[str, Any] | None = None
        self._keys_at = 0.0

    async def close(self) -> None:
        if self._http is not None:
            await self._http.close()
            self._http = None

    def _client(self) -> aiohttp.ClientSession:
        if self._http is None:  # made inside the running loop; HTTPS_PROXY is honoured (trust_env)
            self._http = aiohttp.ClientSession(timeout=self._timeout, trust_env=True)
        return self._http

    async def _json(self, method: str, url: str, what: str, **kw: Any) -> tuple[int, dict[str, Any]]:
        """(status, JSON object) of a request; OidcError when unreachable, too big or not JSON."""
        try:
            async with self._client().request(method, url, allow_redirects=False, **kw) as r:
                body = bytearray()
                async for chunk in r.content.iter_chunked(65536):
                    body += chunk
                    if len(body) > MAX_BODY:
                        raise OidcError(_UNREACHABLE, f"{what}: reply over {MAX_BODY} bytes", 502)
                status = r.status
        except (aiohttp.ClientError, TimeoutError) as e:
            raise OidcError(_UNREACHABLE, f"{what}: {type(e).__name__}", 502) from None
        try:
            data = json.loads(body)
        except ValueError:
            raise OidcError(_UNREACHABLE, f"{what}: HTTP {status}, not JSON", 502) from None
        if not isinstance(data, dict):
            raise OidcError(_UNREACHABLE, f"{what}: HTTP {status}, not a JSON object", 502)
        return status, data

    async def metadata(self) -> dict[str, Any]:
        """The provider's discovery document (cached for an hour; the last good one while it is down)."""
        if self._meta is not None and time.monotonic() - self._meta_at < METADATA_SECONDS:
            return self._meta
        url = self.s.issuer.rstrip("/") + "/.well-known/openid-configuration"
        try:
            status, meta = await self._json("GET", url, "discovery")
            if status != 200:
                raise OidcError(_UNREACHABLE, f"discovery: HTTP {status}", 502)
            if meta.get("issuer") != self.s.issuer:
                raise OidcError(_UNVERIFIED, f"discovery: issuer {meta.get('issuer')!r} is not {self.s.issuer!r}", 502)
            for key in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
                try:
                    check_url(key, meta.get(key))
                except ValueError as e:
                    raise OidcError(_UNREACHABLE, f"discovery: {e}", 502) from None
            methods = meta.get("code_challenge_methods_supported")
            if methods is not None and "S256" not in methods:
                raise OidcError(_UNREACHABLE, "discovery: the provider does not support PKCE S256", 502)
        except OidcError:
            if self._meta is None:
                raise
            return self._meta  # stale but signed keys still decide
        self._meta, self._meta_at = meta, time.monotonic()
        return meta

    async def authorization_url(self, flow: Flow) -> str:
        """Where the browser goes to sign in."""
        meta = await self.metadata()
        query = urlencode({"response_type": "code", "client_id": self.s.client_id, "redirect_uri": self.s.redirect_url,
                           "scope": " ".join(self.s.scopes), "state": flow.state, "nonce": flow.nonce,
                           "code_challenge": flow.challenge, "code_challenge_method": "S256"})
        endpoint = meta["authorization_endpoint"]
        return f"{endpoint}{'&' if '?' in endpoint else '?'}{query}"

    async def sign_in(self, code: str, flow: Flow) -> dict[str, Any]:
        """Exchange the code for tokens and return the ID token's verified claims."""
        meta = await self.metadata()
        form = {"grant_type": "authorization_code", "code": code, "redirect_uri": self.s.redirect_url,
                "code_verifier": flow.verifier}
        headers = {"Accept": "application/json"}
        if self.s.token_auth == "client_secret_post":
            form.update(client_id=self.s.client_id, client_secret=self.s.client_secret)
        else:  # RFC 6749 2.3.1: both form-encoded before Basic
            headers["Authorization"] = aiohttp.encode_basic_auth(quote_plus(self.s.client_id),
                                                                 quote_plus(self.s.client_secret))
        status, tokens = await self._json("POST", meta["token_endpoint"], "token", data=form, headers=headers)
        if status != 200:
            error = str(tokens.get("error", ""))[:60]
            raise OidcError(_UNVERIFIED, f"token: HTTP {status} {error}".rstrip(), 502)
        id_token = tokens.get("id_token")
        if not isinstance(id_token, str):
            raise OidcError(_UNVERIFIED, "token: no id_token in the reply", 502)
        access = tokens.get("access_token")
        return await self.verify(id_token, flow.nonce, access if isinstance(access, str) else None)

    async def _key_set(self, kid: str | None) -> Any:
        now = time.monotonic()
        known = self._keys is not None and any(k.get("kid") == kid for k in self._keys["keys"])
        stale = now - self._keys_at >= KEYS_SECONDS
        if self._keys is None or stale or (not known and now - self._keys_at >= KEYS_REFETCH_SECONDS):
            meta = await self.metadata()
            status, jwks = await self._json("GET", meta["jwks_uri"], "jwks")
            keys = jwks.get("keys")
            if status != 200 or not isinstance(keys, list):
                if self._keys is None:
                    raise OidcError(_UNREACHABLE, f"jwks: HTTP {status}", 502)
            else:  # signing keys only
                self._keys = {"keys": [k for k in keys if isinstance(k, dict) and k.get("use", "sig") == "sig"]}
                self._keys_at = now
        assert self._keys is not None
        return JsonWebKey.import_key_set(self._keys)

    async def verify(self, id_token: str, nonce: str, access_token: str | None = None) -> dict[str, Any]:
        """The claims of an ID token signed by the provider for this client and this sign-in (and,
        when it carries at_hash, for this access token)."""
        header = _header(id_token)
        meta = await self.metadata()
        algs = sorted(ASYMMETRIC & set(meta.get("id_token_signing_alg_values_supported") or ["RS256"]))
        if header.get("alg") not in algs:
            raise OidcError(_UNVERIFIED, f"id token: algorithm {str(header.get('alg'))[:20]!r} not accepted")
        keys = await self._key_set(header.get("kid"))
        try:
            claims = JsonWebToken(algs).decode(
                id_token, keys, claims_cls=CodeIDToken,
                claims_options={"iss": {"essential": True, "value": self.s.issuer},
                                "aud": {"essential": True, "value": self.s.client_id},
                                "nonce": {"essential": True}},
                claims_params={"nonce": nonce, "client_id": self.s.client_id, "access_token": access_token})
            claims.validate(leeway=LEEWAY)
        except (JoseError, ValueError) as e:
            raise OidcError(_UNVERIFIED, f"id token: {type(e).__name__} {getattr(e, 'error', '')}".rstrip()) from None
        aud = claims["aud"]
        if (aud if isinstance(aud, list) else [aud]) != [self.s.client_id]:
            raise OidcError(_UNVERIFIED, "id token: issued for other audiences too")
        return dict(claims)


def _header(token: str) -> dict[str, Any]:
    """A compact JWS's header, unverified (to pick the key); OidcError when not a signed JWT."""
    parts = token.split(".")
    if len(parts) != 3 or len(token) > 64 * 1024:
        raise OidcError(_UNVERIFIED, "id token: not a signed JWT")
    try:
        header = json.loads(base64.urlsafe_b64decode(parts[0] + "=" * (-len(parts[0]) % 4)))
    except ValueError:
        raise OidcError(_UNVERIFIED, "id token: malformed header") from None
    if not isinstance(header, dict):
        raise OidcError(_UNVERIFIED, "id token: malformed header")
    return header


PROVIDER = web.AppKey("oidc_provider", Provider)


def oidc_label(request: web.Request) -> str | None:
    """What the sign-in button calls the provider, or None when OpenID Connect is off."""
    provider = request.app.get(PROVIDER)
    return provider.s.label if provider is not None else None
