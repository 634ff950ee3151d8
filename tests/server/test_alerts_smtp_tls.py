"""Alert e-mail through an SMTP server that wants STARTTLS and a login (a real aiosmtpd server on
loopback with a certificate made here): delivered with the right settings; with a wrong password,
or to a server that offers no STARTTLS, nothing is sent in clear and the alert stays queued."""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult
from alert_helpers import THREAT, Inbox, alert_config, posts, until
from test_server_command import free_port, self_signed  # a certificate for 127.0.0.1

from server import ServerConfig

USER, PASSWORD = "postguard-alerts", "smtp-password-for-tests"  # fictional account


class Checked(Inbox):
    """Also records whether each message came over TLS from the logged-in account."""

    def __init__(self) -> None:
        super().__init__()
        self.sessions: list[tuple[bool, bool, Any]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.sessions.append((session.ssl is not None, session.authenticated, session.auth_data))
        return await super().handle_DATA(server, session, envelope)


def authenticate(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
    ok = data is not None and data.login == USER.encode() and data.password == PASSWORD.encode()
    return AuthResult(success=ok, handled=False, auth_data=data.login if ok else None)


@pytest.fixture
def tls_smtp(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[tuple[int, Checked, Path]]:
    crt, key = self_signed(tmp_path)
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(crt, key)
    inbox, port = Checked(), free_port()
    starttls = getattr(request, "param", True)
    ctl = Controller(inbox, hostname="127.0.0.1", port=port, tls_context=ctx if starttls else None,
                     require_starttls=starttls, authenticator=authenticate, auth_required=True,
                     auth_require_tls=starttls)
    ctl.start()
    yield port, inbox, crt
    ctl.stop()


@pytest.fixture
def password() -> str:
    return PASSWORD


@pytest.fixture
def server_config(db_url: str, policy: Any, tmp_path: Path, tls_smtp: Any, password: str) -> ServerConfig:
    port, _, crt = tls_smtp
    return alert_config(db_url, policy, tmp_path, "http://127.0.0.1:9/hook", smtp_port=port,
                        smtp_security="starttls", smtp_user=USER, smtp_password=password, smtp_cafile=str(crt))


def waiting(server: Any) -> Any:
    got = server.query("SELECT attempts, last_error, sent_at FROM alert_outbox WHERE channel = 'email'")
    return got[0] if got and got[0]["attempts"] >= 2 else None


async def test_starttls_and_login(device: Any, server: Any, tls_smtp: Any) -> None:
    _, inbox, _ = tls_smtp
    d = await device()
    (row,) = posts(d.device, ("warned", [THREAT]))
    await d.send_events([row])
    (msg, _), = await until(lambda: inbox.to("safety@region14.example"))
    assert row["uid"] in msg.get_payload(decode=True).decode()
    assert inbox.sessions == [(True, True, USER.encode())]  # over TLS, as the configured account


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")  # the server without TLS
@pytest.mark.parametrize(("password", "tls_smtp", "error"), [
    ("not-the-password", True, "SMTPAuthenticationError"),
    (PASSWORD, False, "STARTTLS"),  # offered no STARTTLS: nothing is sent in clear
], indirect=["tls_smtp"])
async def test_the_alert_stays_queued(device: Any, server: Any, tls_smtp: Any, password: str, error: str) -> None:
    _, inbox, _ = tls_smtp
    d = await device()
    await d.send_events(posts(d.device, ("warned", [THREAT])))
    got = await until(lambda: waiting(server))
    assert got["sent_at"] is None and error in got["last_error"]
    assert PASSWORD not in got["last_error"] and "not-the-password" not in got["last_error"]
    assert inbox.messages == []
