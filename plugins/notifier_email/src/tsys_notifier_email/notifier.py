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
from collections.abc import Callable
from email.message import EmailMessage
from typing import Any, ClassVar

import attrs

from tsys.api import (
    DailyRun,
    DeliveryResult,
    FieldError,
    Newsletter,
    Notifier,
    NotifierContext,
    NotifierError,
    above,
    at_least,
    between,
    call_with_retries,
    non_empty,
    one_of,
    secret_field,
    structure_options,
)

log = logging.getLogger(__name__)

PASSWORD_ENV = "TSYS_SMTP_PASSWORD"
SECURITY_MODES = ("plain", "starttls", "tls")
DEFAULT_PORTS = {"plain": 25, "starttls": 587, "tls": 465}


def _address(inst: Any, attribute: attrs.Attribute, value: str) -> None:
    if "@" not in email.utils.parseaddr(value)[1]:
        raise FieldError(
            attribute.name, f"must be an address such as 'tsys <me@example.com>', got {value!r}"
        )


@attrs.frozen
class EmailOptions:
    """``[notifiers.email]``; the password comes from TSYS_SMTP_PASSWORD only."""

    #: The SMTP server's name.
    host: str = attrs.field(validator=non_empty())
    sender: str = attrs.field(validator=_address)
    recipients: list[str] = attrs.field(
        validator=[non_empty(), attrs.validators.deep_iterable(_address)]
    )
    #: None: 25 plain, 587 starttls, 465 tls.
    port: int | None = attrs.field(default=None, validator=between(1, 65535))
    security: str = attrs.field(default="starttls", validator=one_of(*SECURITY_MODES))
    username: str | None = None
    timeout: float = attrs.field(default=30.0, validator=above(0))
    retries: int = attrs.field(default=3, validator=at_least(0))
    backoff: float = attrs.field(default=2.0, validator=at_least(0))
    per_bucket: bool = False
    ca_file: str | None = None
    password: str | None = secret_field(PASSWORD_ENV)

    def __attrs_post_init__(self) -> None:
        if self.username and not self.password:
            raise FieldError(
                "username",
                f"{self.username!r} is set but {PASSWORD_ENV} is not: export {PASSWORD_ENV}=... "
                "(the password is never read from tsys.toml)",
            )


class _Attempt(Exception):
    """One failed attempt: the reply to report and whether trying again can help."""

    def __init__(self, reply: str, *, temporary: bool, uncertain: bool = False) -> None:
        super().__init__(reply)
        self.reply = reply
        self.temporary = temporary
        #: The message went out and no reply came: it may well have been delivered.
        self.uncertain = uncertain


class EmailNotifier(Notifier):
    """Send newsletters by SMTP to every recipient, as ``multipart/alternative`` messages."""

    name: ClassVar[str] = "email"
    options_class: ClassVar[type] = EmailOptions

    def __init__(self, options: EmailOptions) -> None:
        self.options = options
        self.host = options.host.strip()
        self.security = options.security
        self.port = options.port if options.port is not None else DEFAULT_PORTS[self.security]
        self.sender = options.sender
        self.recipients = list(options.recipients)
        self.username = options.username or None
        self._password = options.password if self.username else None
        self.timeout = options.timeout
        self.retries = options.retries
        self.backoff = options.backoff
        self.per_bucket = options.per_bucket
        self.ca_file = options.ca_file
        #: How retries wait; tests replace it.
        self.sleep: Callable[[float], None] = time.sleep

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
        if isinstance(opts.get("recipients"), str):
            opts["recipients"] = [opts["recipients"]]  # one address may be written without a list
        return cls(structure_options(EmailOptions, opts, where="$.notifiers.email"))

    # ---------------------------------------------------------------------------- sending
    def build_message(
        self, newsletter: Newsletter, *, now: dt.datetime | None = None, run: DailyRun | None = None
    ):
        """Build the ``multipart/alternative`` message: text first, HTML second.

        With the ``run``, the Message-ID is the run's own (its day, its creation time, the
        bucket), so a resend of the same newsletter carries the same id and mail clients show
        one message, not two.
        """
        now = now or dt.datetime.now(dt.UTC)
        domain = email.utils.parseaddr(self.sender)[1].rpartition("@")[2] or "tsys.invalid"
        msg = EmailMessage()
        msg["Subject"] = newsletter.subject
        msg["From"] = self.sender
        msg["To"] = ", ".join(self.recipients)
        msg["Date"] = email.utils.format_datetime(now)
        msg["Message-ID"] = (
            email.utils.make_msgid(idstring="tsys", domain=domain)
            if run is None
            else run_message_id(run, newsletter.bucket, domain)
        )
        msg["Auto-Submitted"] = "auto-generated"
        msg.set_content(newsletter.text)
        msg.add_alternative(newsletter.html, subtype="html")
        return msg

    def send(self, run: DailyRun, newsletters: list[Newsletter]) -> DeliveryResult:
        """Send every newsletter; raise :class:`NotifierError` when one cannot be delivered."""
        sent = 0
        for nl in newsletters:
            msg = self.build_message(nl, run=run)
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
        tried = 0

        def once() -> None:
            nonlocal tried
            tried += 1
            self._send_once(msg)

        def warn(attempt: int, failure: BaseException, delay: float) -> None:
            reply = self._scrub(getattr(failure, "reply", str(failure)))
            log.warning(
                "email: attempt %d of %d through %s failed (%s); retrying in %.2fs",
                attempt,
                attempts,
                self.server,
                reply,
                delay,
            )

        try:
            call_with_retries(
                once,
                attempts=attempts,
                retry_if=lambda exc: isinstance(exc, _Attempt) and exc.temporary,
                backoff=self.backoff,
                sleep=self.sleep,
                before_sleep=warn,
            )
        except _Attempt as failure:
            reply = self._scrub(failure.reply)
            if failure.uncertain:  # neither a failure to retry nor a permanent refusal
                raise NotifierError(
                    f"email: the newsletter went out through {self.server} ({self.security}) "
                    f"but no reply came: {reply}",
                    hint=self._hint(reply, False),
                ) from None
            kind = "temporary" if failure.temporary else "permanent"
            raise NotifierError(
                f"email: could not send the newsletter through {self.server} "
                f"({self.security}) after {tried} attempt{'s' if tried != 1 else ''}: "
                f"{reply} [{kind}]",
                hint=self._hint(reply, failure.temporary),
            ) from None

    def _hint(self, reply: str, temporary: bool) -> str:
        if "may have been delivered" in reply:
            return "look in the inbox first; a resend keeps the Message-ID (one thread, not two)"
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
            body_sent = _track_body(conn)
            try:
                refused = conn.send_message(msg)
            except smtplib.SMTPResponseException:
                raise  # the server answered: its code says whether to try again
            except OSError as exc:
                if body_sent():
                    # The whole message went out and no answer came back: the server may
                    # well have stored it. Sending again would deliver a second copy.
                    raise _Attempt(
                        f"no reply after the message was sent ({_why(exc, self.timeout)}); it "
                        "may have been delivered, so it is not sent again (check the inbox "
                        "before `tsys newsletter send`, which reuses the Message-ID)",
                        temporary=False,
                        uncertain=True,
                    ) from None
                raise
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
            raise _Attempt(_why(exc, self.timeout), temporary=True) from None
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


def run_message_id(run: DailyRun, bucket: str | None, domain: str) -> str:
    """The Message-ID of a run's newsletter: the same for every (re)send of that run."""
    import hashlib

    key = f"{run.as_of.isoformat()}|{run.created_at.isoformat()}|{run.config_digest}|{bucket}"
    digest = hashlib.sha256(key.encode()).hexdigest()[:16]
    return f"<{run.as_of:%Y%m%d}.{bucket or 'all'}.{digest}.tsys@{domain}>"


def _track_body(conn: smtplib.SMTP) -> Callable[[], bool]:
    """Watch ``conn`` for the message body's final ``CRLF . CRLF``; return "was it sent?"."""
    sent = False
    send = conn.send

    def tracking_send(data: Any) -> None:
        nonlocal sent
        send(data)
        if isinstance(data, bytes) and data.endswith(b"\r\n.\r\n"):
            sent = True

    conn.send = tracking_send  # type: ignore[method-assign]
    return lambda: sent


def _why(exc: BaseException, timeout: float) -> str:
    """A dropped connection in words: a timeout is not "the server closed the connection"."""
    text = str(exc)
    if isinstance(exc, TimeoutError) or "timed out" in text:
        return f"the server did not answer within {timeout:g} s (timed out)"
    return f"the server closed the connection ({text or 'no reason given'})"


def _text(reply: Any) -> str:
    if isinstance(reply, bytes):
        return reply.decode("utf-8", "replace")
    return str(reply)
