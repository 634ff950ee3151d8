"""A small OpenID Connect provider the console tests start on loopback: discovery, a JWKS with an
RSA key, /authorize that sends the browser back with a code for the configured user (at once, or
from an account-chooser page with a link), and /token that checks the client, the code, the redirect URI and the PKCE verifier
and returns a signed ID token. Tests can bend the ID token (`tamper`, `sign_with`, `alg`) to prove
the console refuses it.

In-process: `Provider(...).app()` under aiohttp's test server. As its own process (the browser
test): `python oidc_provider.py --host localhost --port P --client-id ID --secret-file F
--redirect URL --user-json '{...}'`. Every person here is fictional."""

from __future__ import annotations

import argparse
import base64
import hashlib
import hmac
import html
import json
import secrets
import time
from typing import Any
from urllib.parse import urlencode

from aiohttp import web
from authlib.jose import JsonWebKey, JsonWebToken
from authlib.oauth2.rfc7636 import create_s256_code_challenge

CLIENT_ID = "postguard-console-test"
CLIENT_SECRET = "fictional-test-secret-9f3a1c"  # a test value, not a real credential
# Fictional staff of a fictional district.
REVIEWER = {"sub": "1001", "email": "r.okafor@district.example", "email_verified": True,
            "name": "Rosa Okafor (fictional)", "groups": ["postguard-reviewers"]}
ADMIN = {"sub": "1002", "email": "m.lindqvist@district.example", "email_verified": True,
         "name": "Max Lindqvist (fictional)", "groups": ["it-staff"]}
OUTSIDER = {"sub": "1003", "email": "p.novak@district.example", "email_verified": True,
            "name": "Pat Novak (fictional)", "groups": ["cafeteria"]}


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def rsa_key(kid: str) -> Any:
    return JsonWebKey.generate_key("RSA", 2048, is_private=True, options={"kid": kid})


class Provider:
    """The provider's state: its key, the user /authorize signs in, and how to bend the ID token."""

    def __init__(self, client_id: str = CLIENT_ID, client_secret: str = CLIENT_SECRET,
                 redirect_uri: str = "", user: dict[str, Any] | None = None) -> None:
        self.client_id, self.client_secret, self.redirect_uri = client_id, client_secret, redirect_uri
        self.key = rsa_key("test-key-1")
        self.user = dict(user or REVIEWER)
        self.issuer = ""               # set once the port is known
        self.tamper: dict[str, Any] = {}  # ID-token claims to change (None: drop the claim)
        self.sign_with: Any = None     # another private key to sign with (same kid): a bad signature
        self.alg = "RS256"             # "none" or "HS256" (keyed with the public key) for downgrade attacks
        self.codes: dict[str, dict[str, Any]] = {}
        self.authorize_queries: list[dict[str, str]] = []
        self.token_requests = 0
        self.consent_page = False      # answer /authorize with a page and a link back, not a redirect
        self.discovery_drop: set[str] = set()  # discovery fields this provider does not publish

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/.well-known/openid-configuration", self.discovery)
        app.router.add_get("/jwks", self.jwks)
        app.router.add_get("/authorize", self.authorize)
        app.router.add_post("/token", self.token)
        return app

    async def discovery(self, request: web.Request) -> web.Response:
        return web.json_response({k: v for k, v in self._discovery().items() if k not in self.discovery_drop})

    def _discovery(self) -> dict[str, Any]:
        return {
            "issuer": self.issuer, "authorization_endpoint": self.issuer + "/authorize",
            "token_endpoint": self.issuer + "/token", "jwks_uri": self.issuer + "/jwks",
            "response_types_supported": ["code"], "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"], "code_challenge_methods_supported": ["S256"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"]}

    async def jwks(self, request: web.Request) -> web.Response:
        return web.json_response({"keys": [self.key.as_dict(is_private=False, use="sig", alg="RS256")]})

    async def authorize(self, request: web.Request) -> web.StreamResponse:
        q = dict(request.query)
        self.authorize_queries.append(q)
        if (q.get("client_id") != self.client_id or q.get("redirect_uri") != self.redirect_uri
                or q.get("response_type") != "code" or "openid" not in q.get("scope", "").split()
                or q.get("code_challenge_method") != "S256" or not q.get("code_challenge")):
            return web.json_response({"error": "invalid_request"}, status=400)
        code = secrets.token_urlsafe(24)
        self.codes[code] = {"nonce": q.get("nonce"), "challenge": q["code_challenge"],
                            "redirect_uri": q["redirect_uri"], "user": dict(self.user)}
        back = f"{q['redirect_uri']}?{urlencode({'code': code, 'state': q.get('state', '')})}"
        if self.consent_page:  # like an account chooser: the way back starts on the provider's own page
            return web.Response(content_type="text/html", text=f'<!doctype html><title>Choose an account</title>'
                                f'<p><a id="continue" href="{html.escape(back)}">Continue as '
                                f'{html.escape(self.user.get("email", "?"))}</a></p>')
        raise web.HTTPFound(back)

    def _client_ok(self, request: web.Request, form: Any) -> bool:
        auth = request.headers.get("Authorization", "")
        if auth.startswith("Basic "):
            cid, _, secret = base64.b64decode(auth[6:]).decode().partition(":")
        else:
            cid, secret = form.get("client_id", ""), form.get("client_secret", "")
        return cid == self.client_id and hmac.compare_digest(secret, self.client_secret)

    async def token(self, request: web.Request) -> web.Response:
        self.token_requests += 1
        form = await request.post()
        if not self._client_ok(request, form):
            return web.json_response({"error": "invalid_client"}, status=401)
        grant = self.codes.pop(str(form.get("code", "")), None)  # a code works once
        if (form.get("grant_type") != "authorization_code" or grant is None
                or form.get("redirect_uri") != grant["redirect_uri"]
                or create_s256_code_challenge(str(form.get("code_verifier", ""))) != grant["challenge"]):
            return web.json_response({"error": "invalid_grant"}, status=400)
        access = secrets.token_urlsafe(16)
        return web.json_response({"access_token": access, "token_type": "Bearer", "expires_in": 300,
                                  "id_token": self.id_token(grant["user"], grant["nonce"], access)})

    def id_token(self, user: dict[str, Any], nonce: str | None, access_token: str) -> str:
        now = int(time.time())
        at_hash = _b64(hashlib.sha256(access_token.encode()).digest()[:16])  # as Google and Entra send it
        claims: dict[str, Any] = {"iss": self.issuer, "aud": self.client_id, "iat": now, "exp": now + 300,
                                  "at_hash": at_hash, **user}
        if nonce:
            claims["nonce"] = nonce
        for k, v in self.tamper.items():
            if v is None:
                claims.pop(k, None)
            else:
                claims[k] = v
        header = {"alg": self.alg, "kid": self.key.kid, "typ": "JWT"}
        if self.alg == "none":
            return f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}."
        if self.alg == "HS256":  # the old key-confusion attack: HMAC keyed with the public key
            signing = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}"
            secret = self.key.as_pem(is_private=False)
            return f"{signing}.{_b64(hmac.new(secret, signing.encode(), hashlib.sha256).digest())}"
        token = JsonWebToken(["RS256"]).encode(header, claims, self.sign_with or self.key)
        return token.decode() if isinstance(token, bytes) else token


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--client-id", default=CLIENT_ID)
    ap.add_argument("--secret-file", required=True)
    ap.add_argument("--redirect", required=True)
    ap.add_argument("--user-json", default=json.dumps(REVIEWER))
    ap.add_argument("--consent-page", action="store_true", help="a page with a link back instead of a redirect")
    a = ap.parse_args()
    with open(a.secret_file, encoding="utf-8") as f:
        secret = f.read().strip()
    p = Provider(a.client_id, secret, a.redirect, json.loads(a.user_json))
    p.issuer = f"http://{a.host}:{a.port}"
    p.consent_page = a.consent_page
    web.run_app(p.app(), host="127.0.0.1", port=a.port, print=None, access_log=None)


if __name__ == "__main__":
    main()
