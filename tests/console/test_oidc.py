"""Signing in to the console with OpenID Connect against a real provider on loopback
(tests/console/oidc_provider.py): the good path, role mapping, and every check that must refuse."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from oidc_helpers import back_from_provider, oidc_settings, sign_in, to_provider
from oidc_provider import ADMIN, OUTSIDER, REVIEWER, Provider, rsa_key

from console.auth import EXTERNAL_PASSWORD as OIDC_PASSWORD
from console.auth import add_user, check_password
from store import Store


@pytest.fixture
async def provider(aiohttp_server: Any) -> Provider:
    p = Provider(redirect_uri="http://127.0.0.1:8732/login/oidc/callback")
    server = await aiohttp_server(p.app())
    p.issuer = str(server.make_url("")).rstrip("/")
    return p


@pytest.fixture
def oidc_client(make_client: Any, provider: Provider, tmp_path: Path) -> Any:
    async def make(**kw: Any) -> Any:
        return await make_client(extra={"oidc": oidc_settings(provider.issuer, tmp_path, **kw)})
    return make


def audit(st: Store, action: str) -> list[dict[str, Any]]:
    return st.read(lambda c: c.all("SELECT actor, detail FROM audit WHERE action = ? ORDER BY id", (action,)))


def user_row(st: Store, name: str) -> dict[str, Any] | None:
    return st.read(lambda c: c.one("SELECT role, pw_hash, disabled FROM users WHERE name = ?", (name,)))


async def test_reviewer_signs_in_by_group(oidc_client: Any, provider: Provider, store: Store) -> None:
    c = await oidc_client()
    page = await (await c.get("/login")).text()
    assert "Sign in with District account" in page and 'name="password"' in page  # break-glass stays
    r = await sign_in(c)
    assert r.status == 200, await r.text()
    assert 'http-equiv="refresh" content="0;url=/events"' in await r.text()
    assert "pg_session" in r.cookies and r.cookies["pg_session"]["samesite"] == "Strict"
    events = await c.get("/events", allow_redirects=False)
    assert events.status == 200 and "r.okafor@district.example" in await events.text()
    assert (await c.get("/audit", allow_redirects=False)).status == 403  # a reviewer, not an admin
    q = provider.authorize_queries[-1]
    assert q["code_challenge_method"] == "S256" and len(q["nonce"]) >= 32 and q["scope"] == "email openid profile"
    row = user_row(store, "r.okafor@district.example")
    assert row == {"role": "reviewer", "pw_hash": OIDC_PASSWORD, "disabled": 0}
    assert audit(store, "login:oidc") == [{"actor": "r.okafor@district.example",
                                           "detail": f"{provider.issuer} as reviewer"}]
    # No password opens an OIDC account, not even the marker itself.
    assert check_password(store, "r.okafor@district.example", OIDC_PASSWORD) is None
    assert check_password(store, "r.okafor@district.example", "") is None


async def test_admin_by_list_and_role_follows_the_provider(oidc_client: Any, provider: Provider,
                                                           store: Store) -> None:
    provider.user = dict(ADMIN)
    c = await oidc_client()
    assert (await sign_in(c)).status == 200
    assert (await c.get("/audit", allow_redirects=False)).status == 200
    users = await (await c.get("/users")).text()  # the admin sees who signs in how
    assert f"<td>{ADMIN['email']}</td><td>admin</td><td class=\"sign-in\">the district&#39;s account</td>" in users
    assert '<td>alice</td><td>admin</td><td class="sign-in">a password</td>' in users
    # Taken off the admin list, in the reviewers' group: the next sign-in is a reviewer's, and the
    # session already open follows at once.
    provider.user = {**ADMIN, "groups": ["postguard-reviewers"]}
    c2 = await oidc_client(admin_users=["someone.else@district.example"])
    assert (await sign_in(c2)).status == 200
    assert (await c.get("/audit", allow_redirects=False)).status == 403
    assert audit(store, "user:role") == [{"actor": "oidc",
                                          "detail": "m.lindqvist@district.example (admin -> reviewer)"}]


async def test_unmapped_user_refused_with_a_clear_page(oidc_client: Any, provider: Provider, store: Store) -> None:
    provider.user = dict(OUTSIDER)
    c = await oidc_client()
    r = await sign_in(c)
    assert r.status == 403
    assert "p.novak@district.example may not use the review console" in await r.text()
    assert "pg_session" not in r.cookies
    assert user_row(store, "p.novak@district.example") is None
    assert audit(store, "login:oidc-refused") == [{"actor": "p.novak@district.example",
                                                   "detail": "no role for this account"}]


async def test_bad_state_refused(oidc_client: Any, provider: Provider, store: Store) -> None:
    c = await oidc_client()
    _, url = await to_provider(c)
    callback = (await back_from_provider(url)).replace("state=", "state=x")
    r = await c.get(callback, allow_redirects=False)
    assert r.status == 403 and "expired or was started in another window" in await r.text()
    assert provider.token_requests == 0  # the code was never even exchanged
    # A callback from a sign-in this browser never started (no flow cookie) is refused too.
    other = await oidc_client()
    _, url = await to_provider(other)
    r = await c.get(await back_from_provider(url), allow_redirects=False)
    assert r.status == 403 and "pg_session" not in r.cookies


@pytest.mark.parametrize("tamper, reason", [
    ({"nonce": "a-nonce-from-another-sign-in-0123456789"}, "InvalidClaimError invalid_claim"),
    ({"nonce": None}, "MissingClaimError missing_claim"),
    ({"aud": "some-other-app"}, "InvalidClaimError invalid_claim"),
    ({"aud": ["postguard-console-test", "some-other-app"], "azp": "postguard-console-test"},
     "issued for other audiences too"),
    ({"iss": "https://evil.example"}, "InvalidClaimError invalid_claim"),
    ({"exp": 1_700_000_000}, "ExpiredTokenError expired_token"),
    ({"iat": 4_000_000_000, "exp": 4_000_000_300}, "InvalidTokenError invalid_token"),
    ({"at_hash": "AAAAAAAAAAAAAAAAAAAAAA"}, "InvalidClaimError invalid_claim"),  # for another access token
])
async def test_bad_id_tokens_refused(oidc_client: Any, provider: Provider, store: Store,
                                     tamper: dict[str, Any], reason: str) -> None:
    provider.tamper = tamper
    c = await oidc_client()
    r = await sign_in(c)
    assert r.status == 403 and "could not be verified" in await r.text()
    assert "pg_session" not in r.cookies and provider.token_requests == 1
    assert user_row(store, REVIEWER["email"]) is None
    assert audit(store, "login:oidc-refused") == [{"actor": "?", "detail": f"id token: {reason}"}]


@pytest.mark.parametrize("attack, reason", [
    ("other-key", "id token: BadSignatureError bad_signature"),
    ("none", "id token: algorithm 'none' not accepted"),
    ("HS256", "id token: algorithm 'HS256' not accepted"),
])
async def test_bad_signatures_refused(oidc_client: Any, provider: Provider, store: Store,
                                      attack: str, reason: str) -> None:
    if attack == "other-key":
        provider.sign_with = rsa_key(provider.key.kid)  # same key id, someone else's key
    else:
        provider.alg = attack
    c = await oidc_client()
    r = await sign_in(c)
    assert r.status == 403 and "pg_session" not in r.cookies
    assert audit(store, "login:oidc-refused")[-1]["detail"] == reason


async def test_unverified_email_and_wrong_domain_refused(oidc_client: Any, provider: Provider, store: Store) -> None:
    provider.user = {**REVIEWER, "email_verified": False}
    c = await oidc_client()
    r = await sign_in(c)
    assert r.status == 403 and "not verified" in await r.text()
    provider.user = {**REVIEWER, "hd": "gmail.com"}
    c = await oidc_client(require={"hd": "district.example"})
    r = await sign_in(c)
    assert r.status == 403 and "is not from the district" in await r.text()
    assert [a["detail"] for a in audit(store, "login:oidc-refused")] == ["email not verified",
                                                                         "claim hd is not 'district.example'"]


async def test_local_and_disabled_accounts_not_taken_over(oidc_client: Any, provider: Provider, store: Store) -> None:
    add_user(store, REVIEWER["email"], "admin", "a-local-password-1")  # a password account of that name
    c = await oidc_client()
    r = await sign_in(c)
    assert r.status == 403 and "sign in with its password" in await r.text()
    assert user_row(store, REVIEWER["email"])["role"] == "admin"  # untouched
    provider.user = dict(ADMIN)
    assert (await sign_in(c)).status == 200
    store.write(lambda conn: conn.execute("UPDATE users SET disabled = 1 WHERE name = ?", (ADMIN["email"],)))
    c2 = await oidc_client()
    r = await sign_in(c2)
    assert r.status == 403 and "disabled" in await r.text()


async def test_provider_error_and_missing_code(oidc_client: Any, provider: Provider) -> None:
    c = await oidc_client()
    r = await c.get("/login/oidc/callback?error=access_denied&state=x", allow_redirects=False)
    assert r.status == 403 and "cancelled or refused" in await r.text()
    _, url = await to_provider(c)
    state = url.split("state=")[1].split("&")[0]
    r = await c.get(f"/login/oidc/callback?state={state}", allow_redirects=False)
    assert r.status == 400 and "no sign-in code" in await r.text()


async def test_code_is_used_once(oidc_client: Any, provider: Provider, store: Store) -> None:
    c = await oidc_client()
    _, url = await to_provider(c)
    callback = await back_from_provider(url)
    assert (await c.get(callback, allow_redirects=False)).status == 200
    replay = await oidc_client()
    r = await replay.get(callback, allow_redirects=False)  # someone else replaying the callback URL
    assert r.status == 403


async def test_provider_down(make_client: Any, tmp_path: Path, store: Store) -> None:
    c = await make_client(extra={"oidc": oidc_settings("http://127.0.0.1:9", tmp_path)})
    r, _ = await to_provider(c)
    assert r.status == 502 and "could not be reached" in await r.text()
    assert audit(store, "login:oidc-refused")[0]["detail"].startswith("discovery: ")


async def test_no_oidc_no_routes(make_client: Any) -> None:
    c = await make_client()
    assert "Sign in with" not in await (await c.get("/login")).text()
    assert (await c.get("/login/oidc", allow_redirects=False)).status == 404


async def test_new_signing_key_is_fetched(oidc_client: Any, provider: Provider, monkeypatch: Any) -> None:
    import console.oidc_client

    c = await oidc_client()
    assert (await sign_in(c)).status == 200
    monkeypatch.setattr(console.oidc_client, "KEYS_REFETCH_SECONDS", 0.0)
    provider.key = rsa_key("test-key-2")  # the provider rotated its key
    c2 = await oidc_client()
    assert (await sign_in(c2)).status == 200


async def test_client_secret_post(oidc_client: Any, provider: Provider) -> None:
    c = await oidc_client(token_auth="client_secret_post")
    assert (await sign_in(c)).status == 200
    provider.client_secret = "rotated-and-not-told"
    c2 = await oidc_client(token_auth="client_secret_post")
    r = await sign_in(c2)
    assert r.status == 502 and "could not be verified" in await r.text()


@pytest.mark.postgres
async def test_sign_in_on_postgresql(aiohttp_client: Any, provider: Provider, pg_url: str, config: Any,
                                     policy: Any, tmp_path: Path) -> None:
    from console import ConsoleConfig, create_app
    from store import open_store

    with open_store(pg_url, config) as st:
        app = create_app(ConsoleConfig(db=pg_url, policy=policy, store=st,
                                       extra={"oidc": oidc_settings(provider.issuer, tmp_path)}))
        c = await aiohttp_client(app)
        assert (await sign_in(c)).status == 200
        assert (await c.get("/events", allow_redirects=False)).status == 200
        assert user_row(st, REVIEWER["email"]) == {"role": "reviewer", "pw_hash": OIDC_PASSWORD, "disabled": 0}
        provider.user = dict(ADMIN)
        assert (await sign_in(c)).status == 200
        assert [a["actor"] for a in audit(st, "login:oidc")] == [REVIEWER["email"], ADMIN["email"]]


async def test_forged_next_in_the_flow_cookie_stays_local(oidc_client: Any, provider: Provider) -> None:
    from console.oidc import FLOW_COOKIE, Flow

    c = await oidc_client()
    _, url = await to_provider(c)
    callback = await back_from_provider(url)
    flow = next(Flow.from_cookie(m.value) for m in c.session.cookie_jar if m.key == FLOW_COOKIE)
    forged = Flow(flow.state, flow.nonce, flow.verifier, "//evil.example/phish", flow.started)
    c.session.cookie_jar.update_cookies({FLOW_COOKIE: forged.cookie()}, c.make_url("/login/oidc/"))
    r = await c.get(callback, allow_redirects=False)
    assert r.status == 200 and 'content="0;url=/events"' in await r.text() and "evil" not in await r.text()


# What Google Workspace and Microsoft Entra put in their ID tokens (values fictional), with the
# settings docs/oidc.md gives for each.
GOOGLE_USER = {"sub": "110169484474386276334", "azp": "postguard-console-test", "hd": "district.example",
               "email": "r.okafor@district.example", "email_verified": True, "name": "Rosa Okafor (fictional)"}
ENTRA_USER = {"sub": "AAAAAAAAAAAAAAAAAAAAAIkzqFVrSaSaFHy782bbtaQ", "ver": "2.0", "tid": "9122040d-fictional",
              "oid": "00000000-0000-0000-66f3-3332eca7ea81", "preferred_username": "M.Lindqvist@district.example",
              "name": "Max Lindqvist (fictional)", "groups": ["22222222-2222-2222-2222-222222222222"]}


@pytest.mark.parametrize("user, settings, drop, name, role", [
    (GOOGLE_USER, {"require": {"hd": "district.example"}, "reviewer_users": ["r.okafor@district.example"]},
     set(), "r.okafor@district.example", "reviewer"),
    (ENTRA_USER, {"username_claim": "preferred_username", "require": {"tid": "9122040d-fictional"},
                  "admin_groups": ["22222222-2222-2222-2222-222222222222"], "admin_users": []},
     {"code_challenge_methods_supported"}, "m.lindqvist@district.example", "admin"),  # Entra does not list it
], ids=["google-workspace", "microsoft-entra"])
async def test_google_and_entra_shaped_sign_in(oidc_client: Any, provider: Provider, store: Store, user: Any,
                                               settings: Any, drop: set[str], name: str, role: str) -> None:
    provider.user, provider.discovery_drop = dict(user), drop
    c = await oidc_client(**settings)
    assert (await sign_in(c)).status == 200
    assert user_row(store, name)["role"] == role
    provider.user = {**user, "hd": "gmail.com", "tid": "another-tenant"}  # another domain / tenant
    c2 = await oidc_client(**settings)
    r = await sign_in(c2)
    assert r.status == 403 and "is not from the district" in await r.text()
