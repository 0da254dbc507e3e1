"""The email notifier: one ``multipart/alternative`` message per newsletter, sent with smtplib.

Configuration (``[notifiers.email]`` in ``tsys.toml``)::

    host = "smtp.example.com"
    port = 587                  # default: 25 plain, 587 starttls, 465 tls
    security = "starttls"       # plain | starttls | tls
    username = "me@example.com" # optional; the password comes from TSYS_SMTP_PASSWORD only
    sender = "tsys <me@example.com>"
    recipients = ["me@example.com", "partner@example.com"]
    timeout = 30                # seconds per SMTP operation
    retries = 3                 # extra attempts after a temporary failure
    backoff = 2                 # seconds before the first retry, doubled each time
    per_bucket = false          # one email per bucket instead of one combined email
    ca_file = "/path/ca.pem"    # optional: trust this CA instead of the system store

Temporary failures (4xx replies, dropped connections, timeouts) are retried with exponential
backoff; permanent ones (5xx replies, a refused login, a TLS certificate that does not verify)
are not. Errors name the server and the SMTP reply, never the password.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import logging
import smtplib
import ssl
import time
from collections.abc import Sequence
from email.message import EmailMessage
from typing import Any, ClassVar

from tsys.api import (
    ConfigError,
    DailyRun,
    DeliveryResult,
    Newsletter,
    Notifier,
    NotifierContext,
    NotifierError,
    secret,
)

log = logging.getLogger(__name__)

PASSWORD_ENV = "TSYS_SMTP_PASSWORD"
SECURITY_MODES = ("plain", "starttls", "tls")
DEFAULT_PORTS = {"plain": 25, "starttls": 587, "tls": 465}
OPTIONS = (
    "host",
    "port",
    "security",
    "username",
    "sender",
    "recipients",
    "timeout",
    "retries",
    "backoff",
    "per_bucket",
    "ca_file",
)


class _Attempt(Exception):
    """One failed attempt: the reply to report and whether trying again can help."""

    def __init__(self, reply: str, *, temporary: bool) -> None:
        super().__init__(reply)
        self.reply = reply
        self.temporary = temporary


class EmailNotifier(Notifier):
    """Send newsletters by SMTP to every recipient, as ``multipart/alternative`` messages."""

    name: ClassVar[str] = "email"

    def __init__(
        self,
        *,
        host: str,
        sender: str,
        recipients: Sequence[str],
        port: int | None = None,
        security: str = "starttls",
        username: str | None = None,
        password: str | None = None,
        timeout: float = 30.0,
        retries: int = 3,
        backoff: float = 2.0,
        per_bucket: bool = False,
        ca_file: str | None = None,
    ) -> None:
        if security not in SECURITY_MODES:
            raise ConfigError(
                f"[notifiers.email] security must be one of {', '.join(SECURITY_MODES)}, "
                f"got {security!r}"
            )
        if not isinstance(host, str) or not host.strip():
            raise ConfigError("[notifiers.email] needs 'host', the SMTP server's name")
        if not isinstance(sender, str) or "@" not in email.utils.parseaddr(sender)[1]:
            raise ConfigError(
                "[notifiers.email] needs 'sender', an address such as 'tsys <me@example.com>'"
            )
        if isinstance(recipients, str):
            recipients = [recipients]
        recipients = [r for r in recipients if isinstance(r, str) and r.strip()]
        if not recipients:
            raise ConfigError("[notifiers.email] needs 'recipients', a list of addresses")
        if port is not None and (isinstance(port, bool) or not 0 < int(port) < 65536):
            raise ConfigError(f"[notifiers.email] port must be 1..65535, got {port!r}")
        if timeout <= 0 or retries < 0 or backoff < 0:
            raise ConfigError(
                "[notifiers.email] timeout must be > 0, retries and backoff >= 0 "
                f"(got timeout={timeout!r}, retries={retries!r}, backoff={backoff!r})"
            )
        if username and not password:
            raise ConfigError(
                f"[notifiers.email] username {username!r} is set but {PASSWORD_ENV} is not",
                hint=f"export {PASSWORD_ENV}=... (the password is never read from tsys.toml)",
            )
        self.host = host.strip()
        self.security = security
        self.port = int(port) if port is not None else DEFAULT_PORTS[security]
        self.sender = sender
        self.recipients = list(recipients)
        self.username = username or None
        self._password = password if self.username else None
        self.timeout = float(timeout)
        self.retries = int(retries)
        self.backoff = float(backoff)
        self.per_bucket = bool(per_bucket)
        self.ca_file = ca_file

    def __repr__(self) -> str:
        # Never show the password, not even in a debugger or a log line.
        return (
            f"EmailNotifier(host={self.host!r}, port={self.port}, security={self.security!r}, "
            f"username={self.username!r}, recipients={self.recipients!r})"
        )

    @property
    def server(self) -> str:
        return f"{self.host}:{self.port}"

    @classmethod
    def from_config(cls, options: dict[str, Any], ctx: NotifierContext) -> EmailNotifier:
        """Build from ``[notifiers.email]``; the password comes from ``TSYS_SMTP_PASSWORD``."""
        opts = dict(options)
        if "password" in opts:
            raise ConfigError(
                "[notifiers.email] must not contain 'password'",
                hint=f"remove it and export {PASSWORD_ENV} instead",
            )
        unknown = sorted(set(opts) - set(OPTIONS))
        if unknown:
            raise ConfigError(
                f"[notifiers.email] has unknown option(s) {', '.join(unknown)}; "
                f"known: {', '.join(OPTIONS)}"
            )
        try:
            return cls(**opts, password=secret(PASSWORD_ENV))
        except TypeError as exc:
            raise ConfigError(f"[notifiers.email] is incomplete or mistyped: {exc}") from None

    # ---------------------------------------------------------------------------- sending
    def build_message(self, newsletter: Newsletter, *, now: dt.datetime | None = None):
        """Build the ``multipart/alternative`` message: text first, HTML second."""
        now = now or dt.datetime.now(dt.UTC)
        domain = email.utils.parseaddr(self.sender)[1].rpartition("@")[2] or "tsys.invalid"
        msg = EmailMessage()
        msg["Subject"] = newsletter.subject
        msg["From"] = self.sender
        msg["To"] = ", ".join(self.recipients)
        msg["Date"] = email.utils.format_datetime(now)
        msg["Message-ID"] = email.utils.make_msgid(idstring="tsys", domain=domain)
        msg["Auto-Submitted"] = "auto-generated"
        msg.set_content(newsletter.text)
        msg.add_alternative(newsletter.html, subtype="html")
        return msg

    def send(self, run: DailyRun, newsletters: list[Newsletter]) -> DeliveryResult:
        """Send every newsletter; raise :class:`NotifierError` when one cannot be delivered."""
        sent = 0
        for nl in newsletters:
            msg = self.build_message(nl)
            try:
                self._send_with_retries(msg)
            except NotifierError as exc:
                if sent:
                    exc.message += f" ({sent} of {len(newsletters)} emails were sent before)"
                raise
            sent += 1
        return DeliveryResult(
            plugin=self.name,
            ok=True,
            detail=(
                f"sent {sent} email{'s' if sent != 1 else ''} to {', '.join(self.recipients)} "
                f"through {self.server} ({self.security})"
            ),
            at=dt.datetime.now(dt.UTC).replace(microsecond=0),
        )

    def _send_with_retries(self, msg: EmailMessage) -> None:
        attempts = self.retries + 1
        for attempt in range(1, attempts + 1):
            try:
                self._send_once(msg)
                return
            except _Attempt as failure:
                reply = self._scrub(failure.reply)
                if not failure.temporary or attempt == attempts:
                    kind = "temporary" if failure.temporary else "permanent"
                    raise NotifierError(
                        f"email: could not send the newsletter through {self.server} "
                        f"({self.security}) after {attempt} attempt"
                        f"{'s' if attempt != 1 else ''}: {reply} [{kind}]",
                        hint=self._hint(reply, failure.temporary),
                    ) from None
                delay = self.backoff * 2 ** (attempt - 1)
                log.warning(
                    "email: attempt %d of %d through %s failed (%s); retrying in %.2fs",
                    attempt,
                    attempts,
                    self.server,
                    reply,
                    delay,
                )
                time.sleep(delay)

    def _hint(self, reply: str, temporary: bool) -> str:
        if reply.startswith("535") or "authentication" in reply.lower():
            return f"check 'username' in [notifiers.email] and {PASSWORD_ENV}"
        if temporary:
            return "the server or network may be down; retry later with `tsys newsletter send`"
        return "check host, port, security and addresses in [notifiers.email]"

    def _scrub(self, text: str) -> str:
        if self._password:
            text = text.replace(self._password, "***")
        return text

    def _context(self) -> ssl.SSLContext:
        try:
            return ssl.create_default_context(cafile=self.ca_file)
        except (OSError, ssl.SSLError) as exc:
            raise _Attempt(
                f"cannot load ca_file {self.ca_file!r}: {exc}", temporary=False
            ) from None

    def _send_once(self, msg: EmailMessage) -> None:
        """One connection: connect, (STARTTLS), (login), send, quit; classify any failure."""
        conn: smtplib.SMTP | None = None
        try:
            if self.security == "tls":
                conn = smtplib.SMTP_SSL(
                    self.host, self.port, timeout=self.timeout, context=self._context()
                )
            else:
                conn = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
            conn.ehlo()
            if self.security == "starttls":
                conn.starttls(context=self._context())
                conn.ehlo()
            if self.username:
                if self.security == "plain":
                    log.warning("email: logging in to %s without TLS", self.server)
                conn.login(self.username, self._password or "")
            refused = conn.send_message(msg)
            if refused:
                detail = "; ".join(f"{r}: {c} {_text(m)}" for r, (c, m) in refused.items())
                raise _Attempt(
                    f"the server refused some recipients ({detail}); the others got the email",
                    temporary=False,
                )
        except _Attempt:
            raise
        except smtplib.SMTPRecipientsRefused as exc:
            codes = [c for c, _ in exc.recipients.values()]
            detail = "; ".join(f"{r}: {c} {_text(m)}" for r, (c, m) in exc.recipients.items())
            raise _Attempt(
                f"every recipient was refused ({detail})",
                temporary=all(400 <= c < 500 for c in codes),
            ) from None
        except smtplib.SMTPNotSupportedError as exc:
            raise _Attempt(
                f"the server does not support what was asked ({exc}); "
                "for login it may need security = 'starttls' or 'tls'",
                temporary=False,
            ) from None
        except smtplib.SMTPResponseException as exc:
            # Covers SMTPAuthenticationError (535), SMTPSenderRefused, SMTPDataError,
            # SMTPConnectError and SMTPHeloError: the reply code decides.
            code = exc.smtp_code
            raise _Attempt(f"{code} {_text(exc.smtp_error)}", temporary=400 <= code < 500) from None
        except smtplib.SMTPServerDisconnected as exc:
            raise _Attempt(
                f"the server closed the connection ({exc or 'no reason given'})", temporary=True
            ) from None
        except ssl.SSLError as exc:
            # A certificate that does not verify will not verify on the next try either.
            raise _Attempt(f"TLS failed: {exc}", temporary=False) from None
        except smtplib.SMTPException as exc:
            # SMTPException is an OSError: catch the rest of smtplib's own errors (no usable
            # AUTH mechanism, ...) before the network errors below.
            raise _Attempt(f"SMTP error: {exc}", temporary=False) from None
        except (TimeoutError, OSError) as exc:
            raise _Attempt(
                f"connection failed: {type(exc).__name__}: {exc}", temporary=True
            ) from None
        finally:
            if conn is not None:
                try:
                    conn.quit()
                except Exception:
                    # After a delivered message a failed QUIT changes nothing; before, the
                    # original error is the one worth reporting.
                    conn.close()


def _text(reply: Any) -> str:
    if isinstance(reply, bytes):
        return reply.decode("utf-8", "replace")
    return str(reply)
