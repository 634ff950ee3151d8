"""How alerts travel: e-mail over one SMTP session (stdlib smtplib: call it in a thread) and a
signed JSON POST (aiohttp). Used by the server's sender and by `postguard alerts test`."""

from __future__ import annotations

import json
import smtplib
import ssl
import time
from dataclasses import asdict
from email.message import EmailMessage
from typing import TYPE_CHECKING

import aiohttp

from server.alerts_settings import AlertSettings
from server.alerts_sign import SIGNATURE_HEADER, sign

if TYPE_CHECKING:
    from server.alerts import Alert


def send_mail(s: AlertSettings, messages: list[EmailMessage]) -> list[str | None]:
    """Send `messages` over one SMTP session; per message its error or None. A session that fails
    fails the messages not sent yet (those sent before stay sent)."""
    done: list[str | None] = []
    try:
        with _connect(s) as smtp:
            for m in messages:
                done.append(_send(smtp, m))
    except (OSError, smtplib.SMTPException) as e:
        err = f"SMTP {s.smtp_host}:{s.smtp_port}: {type(e).__name__}: {_short(e)}"
        done += [err] * (len(messages) - len(done))
    return done


async def post_webhook(http: aiohttp.ClientSession, url: str, secret: str, body: bytes, event: str,
                       delivery: str) -> str | None:
    """POST `body` signed with `secret` (Postguard-Signature); None on a 2xx answer, else the error.
    Redirects are not followed (a 3xx is a failure, retried)."""
    headers = {"Content-Type": "application/json", "User-Agent": "postguard-alerts",
               SIGNATURE_HEADER: sign(secret, body, int(time.time())),
               "Postguard-Event": event, "Postguard-Delivery": delivery}
    try:
        async with http.post(url, data=body, headers=headers, allow_redirects=False) as resp:
            await resp.read()
            return None if 200 <= resp.status < 300 else f"webhook answered HTTP {resp.status}"
    except (aiohttp.ClientError, TimeoutError, OSError) as e:
        return f"webhook: {type(e).__name__}: {_short(e)}"


def webhook_body(items: list[Alert], digest: bool) -> tuple[bytes, str]:
    """The JSON body and the Postguard-Event of one alert, or of a digest of several."""
    if digest:
        return json.dumps({"type": "postguard.digest", "alerts": [asdict(a) for a in items]}).encode(), "digest"
    return json.dumps({"type": "postguard.alert", **asdict(items[0])}).encode(), "alert"


def _connect(s: AlertSettings) -> smtplib.SMTP:
    ctx = ssl.create_default_context(cafile=s.smtp_cafile or None)
    if s.smtp_security == "tls":
        smtp: smtplib.SMTP = smtplib.SMTP_SSL(s.smtp_host, s.smtp_port, timeout=s.timeout_seconds, context=ctx)
    else:
        smtp = smtplib.SMTP(s.smtp_host, s.smtp_port, timeout=s.timeout_seconds)
    try:
        smtp.ehlo()
        if s.smtp_security == "starttls":
            smtp.starttls(context=ctx)  # refuses to go on in clear when the server offers no STARTTLS
            smtp.ehlo()
        if s.smtp_user:
            smtp.login(s.smtp_user, s.smtp_password)
    except BaseException:
        smtp.close()
        raise
    return smtp


def _send(smtp: smtplib.SMTP, msg: EmailMessage) -> str | None:
    try:
        smtp.send_message(msg)
    except smtplib.SMTPRecipientsRefused:
        return "SMTP refused the recipient"
    except smtplib.SMTPResponseException as e:
        return f"SMTP {e.smtp_code}"
    return None


def _short(e: BaseException) -> str:
    return str(e).replace("\n", " ")[:160]
