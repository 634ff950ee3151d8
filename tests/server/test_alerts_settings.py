"""Alert delivery settings from the environment, the webhook signature's edge cases, and a server
that refuses to start on a bad alerts file. Every secret here is fictional."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from server_helpers import cli

from checker.errors import PolicyError
from server import ServerConfig, create_app
from server.alerts_settings import AlertSettings
from server.alerts_sign import sign, verify


def test_settings_from_the_environment() -> None:
    s = AlertSettings.from_env({"POSTGUARD_SMTP_HOST": "smtp.region14.example", "POSTGUARD_SMTP_SECURITY": "tls",
                                "POSTGUARD_SMTP_USER": "alerts", "POSTGUARD_SMTP_PASSWORD": "pw-fictional",
                                "POSTGUARD_WEBHOOK_SECRET": "secret-fictional",
                                "POSTGUARD_CONSOLE_URL": "https://console.region14.example/"})
    assert (s.smtp_host, s.smtp_port, s.smtp_security, s.console_base_url) == (
        "smtp.region14.example", 465, "tls", "https://console.region14.example")
    assert AlertSettings.from_env({}).smtp_port == 587 and AlertSettings.from_env({}).smtp_host == ""
    assert "pw-fictional" not in repr(s) and "secret-fictional" not in repr(s)


@pytest.mark.parametrize(("env", "error"), [
    ({"POSTGUARD_SMTP_PORT": "smtp"}, "POSTGUARD_SMTP_PORT: a port number"),
    ({"POSTGUARD_SMTP_PORT": "70000"}, "smtp_port must be a TCP port"),
    ({"POSTGUARD_SMTP_SECURITY": "ssl"}, "smtp_security must be one of starttls, tls, none"),
    ({"POSTGUARD_MAIL_FROM": "postguard"}, "mail_from must be one e-mail address"),
    ({"POSTGUARD_SMTP_HOST": "smtp.region14.example", "POSTGUARD_SMTP_SECURITY": "none",
      "POSTGUARD_SMTP_USER": "alerts"}, "an SMTP login needs smtp_security starttls or tls"),
    ({"POSTGUARD_MAIL_FROM": "a@b.example\r\nBcc: c@d.example"}, "mail_from must be one e-mail address"),
])
def test_bad_settings_are_refused(env: dict[str, str], error: str) -> None:
    with pytest.raises(ValueError, match=error):
        AlertSettings.from_env(env)


BODY = b'{"type":"postguard.alert"}'
T = 1_800_000_000


@pytest.mark.parametrize(("header", "ok"), [
    (sign("s3cret", BODY, T), True),
    (sign("s3cret", BODY, T) + ",v1=" + "0" * 64, True),            # a second signature (rotation)
    (f"t={T},v1={'0' * 64},{sign('s3cret', BODY, T).split(',')[1]}", True),
    (sign("other", BODY, T), False),
    (sign("s3cret", BODY + b" ", T), False),
    (sign("s3cret", BODY, T).replace(f"t={T}", f"t={T + 1}"), False),  # the time is signed too
    (sign("s3cret", BODY, T - 301), False),                              # too old: a replay
    (sign("s3cret", BODY, T).split(",")[1], False),                      # no time
    (f"t={T}", False), ("", False), ("garbage", False), (f"t=x,v1={'0' * 64}", False),
])
def test_signature_verification(header: str, ok: bool) -> None:
    assert verify("s3cret", header, BODY, now=T) is ok


def test_a_bad_alerts_file_stops_the_server(policy: Any, tmp_path: Path) -> None:
    bad = tmp_path / "alerts.toml"
    bad.write_text('console_base_url = "https://c.region14.example"\n[[route]]\nname = "x"\n'
                   'email = ["it@region14.example"]\nrules = ["gossip"]\n', encoding="utf-8")
    cfg = ServerConfig(db=str(tmp_path / "s.sqlite"), policy=policy, signing_key=tmp_path / "k", alerts_file=bad,
                       spool=tmp_path / "spool.jsonl", alerts=AlertSettings())
    with pytest.raises(PolicyError, match=r"alerts.toml: route\[0\].rules: unknown value .*'gossip'"):
        create_app(cfg)


@pytest.mark.parametrize(("env", "error"), [
    ({"POSTGUARD_SMTP_PORT": "smtp"}, "postguard: error: POSTGUARD_SMTP_PORT: a port number (got 'smtp')"),
    ({"POSTGUARD_SMTP_SECURITY": "ssl"}, "postguard: error: alerts: smtp_security must be one of"),
])
def test_postguard_server_says_what_is_wrong(env: dict[str, str], error: str, tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    rc, _, err = cli(capsys, "server", "--db", str(tmp_path / "s.sqlite"), "--listen", "127.0.0.1:0")
    assert rc == 2 and error in err and "internal error" not in err
    assert not (tmp_path / "s.sqlite").exists()  # stopped before it touched the database
