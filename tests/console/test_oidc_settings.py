"""The [oidc] settings: what is accepted, and a clear error for everything else; the sign-in's
flow cookie; `postguard console --oidc FILE`."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from console.oidc import FLOW_SECONDS, Flow, load_file, load_settings, settings_from

GOOD = {"issuer": "https://accounts.google.com", "client_id": "1234-fictional.apps.googleusercontent.com",
        "client_secret_env": "PG_TEST_OIDC_SECRET", "redirect_url": "https://console.district.example/login/oidc/callback",
        "reviewer_users": ["R.Okafor@district.example"], "require": {"hd": "district.example"}}


@pytest.fixture(autouse=True)
def secret(monkeypatch: Any) -> None:
    monkeypatch.setenv("PG_TEST_OIDC_SECRET", "fictional-secret-value")


def test_good_settings() -> None:
    s = load_settings(GOOD)
    assert s.client_secret == "fictional-secret-value" and s.reviewer_users == {"r.okafor@district.example"}
    assert s.scopes == ("email", "openid", "profile") and s.require == (("hd", "district.example"),)
    assert "fictional-secret-value" not in repr(s)


@pytest.mark.parametrize("change, message", [
    ({"client_secret": "x"}, "oidc.client_secret: never in the settings file"),
    ({"client_secret_env": None}, "client_secret_file or client_secret_env is required"),
    ({"client_secret_env": "PG_TEST_UNSET_VAR"}, "PG_TEST_UNSET_VAR is not set"),
    ({"client_secret_env": None, "client_secret_file": "/nonexistent/secret"}, "cannot read /nonexistent/secret"),
    ({"issuer": "http://idp.district.example"}, "oidc.issuer: must be an https:// URL"),
    ({"issuer": None}, "oidc.issuer: required"),
    ({"redirect_url": "https://console.district.example/callback"}, "must be the console's /login/oidc/callback"),
    ({"client_id": ""}, "oidc.client_id: required"),
    ({"scopes": ["email"]}, "oidc.scopes: must include openid"),
    ({"reviewer_users": None}, "no one could sign in"),
    ({"admin_groups": "it-staff"}, "oidc.admin_groups: a list of non-empty strings"),
    ({"token_auth": "private_key_jwt"}, "oidc.token_auth: one of"),
    ({"tenant": "x"}, "oidc: unknown setting(s) tenant"),
    ({"require": {"hd": 3}}, "oidc.require: a table of claim"),
    ({"require_verified_email": "no"}, "oidc.require_verified_email: true or false"),
])
def test_bad_settings_say_what_is_wrong(change: dict[str, Any], message: str) -> None:
    raw = {k: v for k, v in {**GOOD, **change}.items() if v is not None}
    with pytest.raises(ValueError) as e:
        load_settings(raw)
    assert message in str(e.value)
    assert "fictional-secret-value" not in str(e.value)


def test_settings_file_and_relative_secret(tmp_path: Path) -> None:
    (tmp_path / "secret").write_text("from-a-file\n", encoding="utf-8")
    f = tmp_path / "oidc.toml"
    f.write_text('[oidc]\nissuer = "https://login.microsoftonline.com/0000-fictional-tenant/v2.0"\n'
                 'client_id = "a-client"\nclient_secret_file = "secret"\n'
                 'redirect_url = "https://console.district.example/login/oidc/callback"\n'
                 'username_claim = "preferred_username"\nadmin_groups = ["6f1c0000-fictional-group-id"]\n',
                 encoding="utf-8")
    s = settings_from({"oidc": load_file(f)})
    assert s is not None and s.client_secret == "from-a-file" and s.username_claim == "preferred_username"
    assert settings_from({}) is None
    (tmp_path / "bad.toml").write_text("[oidc\n", encoding="utf-8")
    with pytest.raises(ValueError, match="not valid TOML"):
        load_file(tmp_path / "bad.toml")
    (tmp_path / "empty.toml").write_text("x = 1\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"no \[oidc\] table"):
        load_file(tmp_path / "empty.toml")


def test_flow_cookie_round_trip_and_refusals() -> None:
    flow = Flow.start("/events?rule=conduct")
    assert Flow.from_cookie(flow.cookie()) == Flow(flow.state, flow.nonce, flow.verifier, flow.next,
                                                   float(int(flow.started)))
    assert flow.challenge != flow.verifier and len(flow.verifier) >= 43
    assert Flow.from_cookie(flow.cookie(), now=time.time() + FLOW_SECONDS + 5) is None  # too old
    for bad in (None, "", "not-base64!", "W10", flow.cookie()[:-4], "x" * 3000):
        assert Flow.from_cookie(bad) is None


def test_console_command_refuses_a_bad_file(tmp_path: Path) -> None:
    f = tmp_path / "oidc.toml"
    f.write_text('[oidc]\nissuer = "https://idp.example"\nclient_secret = "oops"\n', encoding="utf-8")
    r = subprocess.run([sys.executable, "-m", "postguard", "console", "--db", str(tmp_path / "x.sqlite"),
                        "--oidc", str(f)], capture_output=True, text=True, timeout=60)
    assert r.returncode == 2
    assert "--oidc: oidc.client_secret: never in the settings file" in r.stderr and "oops" not in r.stderr
