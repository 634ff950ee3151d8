"""How the server delivers alerts: the district's SMTP server, the webhook secret, retry timing.
Deployment settings, not policy: they come from the environment (`postguard server`) or from
the code that builds a `ServerConfig` (the tests)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

SECURITY = ("starttls", "tls", "none")


@dataclass(frozen=True)
class AlertSettings:
    """SMTP and webhook delivery. No `smtp_host`: e-mail alerts wait in the outbox; no
    `webhook_secret`: webhook alerts wait (a webhook is never sent unsigned)."""

    smtp_host: str = ""
    smtp_port: int = 587
    smtp_security: str = "starttls"  # starttls (submission, 587) | tls (implicit, 465) | none (loopback relay)
    smtp_user: str = ""
    smtp_password: str = ""
    smtp_cafile: str = ""            # a CA bundle for the SMTP server's certificate (default: the system's)
    mail_from: str = "postguard@localhost"
    webhook_secret: str = ""
    console_base_url: str = ""       # overrides alerts.toml's console_base_url when set
    timeout_seconds: float = 30.0    # one SMTP session or webhook POST
    retry_base_seconds: float = 30.0  # first retry after this; doubles each failure
    retry_max_seconds: float = 3600.0
    poll_seconds: float = 15.0       # the outbox is looked at this often even when nothing wakes it

    def __post_init__(self) -> None:
        if self.smtp_security not in SECURITY:
            raise ValueError(f"alerts: smtp_security must be one of {', '.join(SECURITY)} "
                             f"(got {self.smtp_security!r})")
        if not 0 < self.smtp_port < 65536:
            raise ValueError(f"alerts: smtp_port must be a TCP port (got {self.smtp_port!r})")
        if self.smtp_user and self.smtp_security == "none" and self.smtp_host not in ("127.0.0.1", "::1", "localhost"):
            raise ValueError("alerts: an SMTP login needs smtp_security starttls or tls (the password would "
                             "cross the network in clear)")
        if any(c in self.mail_from for c in "\r\n") or "@" not in self.mail_from:
            raise ValueError("alerts: mail_from must be one e-mail address")
        for name in ("timeout_seconds", "retry_base_seconds", "retry_max_seconds", "poll_seconds"):
            if not getattr(self, name) > 0:
                raise ValueError(f"alerts: {name} must be more than 0")

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> AlertSettings:
        """From POSTGUARD_SMTP_HOST, _SMTP_PORT, _SMTP_SECURITY, _SMTP_USER, _SMTP_PASSWORD,
        _SMTP_CAFILE, POSTGUARD_MAIL_FROM, POSTGUARD_WEBHOOK_SECRET and POSTGUARD_CONSOLE_URL."""
        e = os.environ if env is None else env
        port = e.get("POSTGUARD_SMTP_PORT", "")
        if port and not port.isdigit():
            raise ValueError(f"POSTGUARD_SMTP_PORT: a port number (got {port!r})")
        security = e.get("POSTGUARD_SMTP_SECURITY", "starttls")
        return cls(smtp_host=e.get("POSTGUARD_SMTP_HOST", ""),
                   smtp_port=int(port) if port else (465 if security == "tls" else 587),
                   smtp_security=security, smtp_user=e.get("POSTGUARD_SMTP_USER", ""),
                   smtp_password=e.get("POSTGUARD_SMTP_PASSWORD", ""),
                   smtp_cafile=e.get("POSTGUARD_SMTP_CAFILE", ""),
                   mail_from=e.get("POSTGUARD_MAIL_FROM", "postguard@localhost"),
                   webhook_secret=e.get("POSTGUARD_WEBHOOK_SECRET", ""),
                   console_base_url=e.get("POSTGUARD_CONSOLE_URL", "").rstrip("/"))

    def __repr__(self) -> str:  # never print the password or the secret
        return (f"AlertSettings(smtp={self.smtp_host or '-'}:{self.smtp_port} {self.smtp_security}, "
                f"user={'set' if self.smtp_user else '-'}, webhook_secret={'set' if self.webhook_secret else '-'})")
