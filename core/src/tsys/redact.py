"""The one secrets scrubber: what leaves tsys never carries a secret.

Secrets come from the environment only (:data:`SECRET_ENV`, any variable whose name
looks secret such as ``TSYS__NOTIFIERS__EMAIL__PASSWORD``, and the password inside a database
URL). :func:`scrub` removes, from any text on its way out:

- every known secret value (also URL-, JSON- and HTML-escaped),
- the password of every URL (parsed with :mod:`urllib.parse`, so a password holding ``@`` goes
  whole) and every secret-looking query parameter (``?password=``, ``&apikey=``),
- the value after every secret-looking key (``api-key: ...``, ``"APCA-API-SECRET-KEY": "..."``).

It is applied at the exits, not per plugin: the CLI's stdout, stderr and error messages
(:func:`install`), every log record, every text file written through :mod:`tsys.files`, the
rendered newsletter that notifiers send, and ``tsys config show``.
"""

from __future__ import annotations

import html
import json
import logging
import os
import re
import sys
from collections.abc import Iterable
from typing import Any, TextIO
from urllib.parse import quote, quote_plus, unquote_plus, urlsplit

#: The only places secrets come from. ``tsys config show`` says whether each is set, never what.
SECRET_ENV: tuple[str, ...] = (
    "ALPACA_API_KEY",
    "ALPACA_API_SECRET",
    "ALPHAVANTAGE_API_KEY",
    "COINGECKO_API_KEY",
    "UNUSUAL_WHALES_API_TOKEN",
    "TSYS_SMTP_PASSWORD",
)
MASK = "***"

#: Secrets shorter than this are not searched for in text (they would mask ordinary words).
MIN_SECRET_LENGTH = 4

_SECRET_WORDS = frozenset(
    {
        "pass",
        "password",
        "passwd",
        "passphrase",
        "pwd",
        "secret",
        "token",
        "auth",
        "authorization",
        "credential",
        "credentials",
        "apikey",
        "cookie",
    }
)
_SECRET_PARTS = ("password", "passwd", "secret", "apikey", "token", "credential", "privatekey")
_WORD_SPLIT = re.compile(r"[^a-z0-9]+|(?<=[a-z])(?=[A-Z])")

_registered: set[str] = set()


def is_secret_key(key: object) -> bool:
    """Whether a mapping key, option, header or variable name looks like it holds a secret.

    ``password``, ``api-key``, ``APCA-API-SECRET-KEY``, ``auth``, ``credentials``,
    ``access_token``, ``pass`` do; ``author``, ``passed``, ``bypass`` do not.
    """
    text = str(key)
    words = {w.lower() for w in _WORD_SPLIT.split(text) if w}
    if words & _SECRET_WORDS:
        return True
    compact = re.sub(r"[^a-z0-9]", "", text.lower())
    return any(part in compact for part in _SECRET_PARTS)


def register(value: str | None) -> None:
    """Add a secret value that does not come from the environment (e.g. read from a file)."""
    if value:
        _registered.add(str(value))


def secret_values() -> list[str]:
    """Every secret value known now, longest first (the environment is read on each call)."""
    found = set(_registered)
    for name, value in os.environ.items():
        if not value:
            continue
        if name in SECRET_ENV or (is_secret_key(name) and len(value) >= 8):
            found.add(value)  # (8: an unrelated FOO_TOKEN_ENABLED=true must not mask "true")
        if "://" in value:
            password = _url_password(value)
            if password:
                # a driver that splits at the first '@' shows the rest as part of the host
                found.update([password, *password.split("@")[1:]])
    return sorted((s for s in found if len(s) >= MIN_SECRET_LENGTH), key=len, reverse=True)


def _url_password(url: str) -> str | None:
    netloc = re.split(r"[/?#]", url.strip().split("://", 1)[-1], maxsplit=1)[0]
    userinfo = netloc.rpartition("@")[0]
    password = userinfo.partition(":")[2]
    return unquote_plus(password) if password else None


def _variants(value: str) -> Iterable[str]:
    yield value
    yield quote(value, safe="")
    yield quote_plus(value, safe="")
    yield json.dumps(value)[1:-1]
    yield html.escape(value)
    yield html.escape(value, quote=False)


_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*://[^\s\"'<>]+")


def redact_url(url: str) -> str:
    """``url`` with its password and secret-looking query values replaced by ``***``.

    Split with :func:`urllib.parse.urlsplit` (its rules: the authority ends at the first ``/``,
    ``?`` or ``#``, the user info at the last ``@``), so ``postgresql://u:p@ss@host/db`` loses
    the whole ``p@ss`` and ``?sslmode=require&password=x`` loses ``x``. Everything else is
    kept byte for byte.
    """
    try:
        parts = urlsplit(url)
        netloc, query = parts.netloc, parts.query
    except ValueError:  # e.g. a '[' in the password: urllib takes it for an IPv6 host
        rest = url.split("://", 1)[-1]
        netloc = re.split(r"[/?#]", rest, maxsplit=1)[0]
        query = rest.partition("?")[2].partition("#")[0]
    out = url
    if "@" in netloc:
        userinfo, _, hostport = netloc.rpartition("@")
        user, colon, _password = userinfo.partition(":")
        if colon:
            out = out.replace(netloc, f"{user}:{MASK}@{hostport}", 1)
    if query:
        fields = []
        for field in query.split("&"):
            key, eq, _val = field.partition("=")
            fields.append(f"{key}={MASK}" if eq and is_secret_key(unquote_plus(key)) else field)
        redacted = "&".join(fields)
        if redacted != query:
            out = out.replace("?" + query, "?" + redacted, 1)
    return out


_KEY_VALUE = re.compile(
    r"""(?P<key>"[A-Za-z][\w.\-]*"|'[A-Za-z][\w.\-]*'|\b[A-Za-z][\w.\-]*)"""
    r"""(?P<sep>\s*[:=]\s*)"""
    r"""(?P<val>"(?:[^"\\\n]|\\.)*"|'[^'\n]*'|(?:(?:Bearer|Basic|Token)\s+)?[^\s,;&"'<>(){}\[\]]+)"""
)
#: Values that say whether a secret is set, not what it is (``tsys config show``).
_SAFE_VALUES = frozenset({"", MASK, "set (redacted)", "not set"})
_LITERAL = re.compile(r"(?:true|false|null|none|-?\d+(?:\.\d+)?)\Z", re.IGNORECASE)


def _mask_key_value(m: re.Match[str]) -> str:
    key, val = m.group("key"), m.group("val")
    if not is_secret_key(key.strip("\"'")) or val.strip("\"'") in _SAFE_VALUES:
        return m.group(0)
    if val[0] in "\"'":
        return f"{key}{m.group('sep')}{val[0]}{MASK}{val[0]}"
    if _LITERAL.match(val) and ":" in m.group("sep"):
        return m.group(0)  # a JSON number or true/false: masking it would break the document
    return f"{key}{m.group('sep')}{MASK}"


def scrub(text: str) -> str:
    """``text`` with every secret value, URL password and secret-looking key's value masked."""
    if not text:
        return text
    for value in secret_values():
        for form in _variants(value):
            if form in text:
                text = text.replace(form, MASK)
    if "://" in text:
        text = _URL.sub(lambda m: redact_url(m.group(0)), text)
    if not _may_hold_secret_key(text):
        return text  # (the 60 MB of a 100,000-position ``tsys portfolio --json``: 10 s saved)
    return _KEY_VALUE.sub(_mask_key_value, text)


#: Every key :func:`is_secret_key` accepts holds one of these once lower-cased and stripped of
#: everything but a-z and 0-9 (each secret word and part contains one).
_KEY_FRAGMENTS = tuple(
    f.encode()
    for f in (
        "pass",
        "pwd",
        "secret",
        "token",
        "auth",
        "credential",
        "apikey",
        "cookie",
        "privatekey",
    )
)
#: A key is one run of word characters, "." and "-": any other ASCII character ends it (a
#: space here); "_", ".", "-" and every non-ASCII byte are dropped, as the check drops them.
_KEY_BYTES = bytes(b if chr(b).isalnum() else 32 for b in range(128)) + bytes(range(128, 256))
_DROPPED = b"_.-" + bytes(range(128, 256))


def _may_hold_secret_key(text: str) -> bool:
    """False only when no key in ``text`` can be one that :func:`is_secret_key` accepts."""
    compact = text.lower().encode("utf-8", "ignore").translate(_KEY_BYTES, _DROPPED)
    return any(f in compact for f in _KEY_FRAGMENTS)


def scrub_data(data: Any) -> Any:
    """A copy of a JSON-like structure with secret-looking keys' values masked, strings scrubbed."""
    if isinstance(data, dict):
        return {
            k: (MASK if is_secret_key(k) and v not in (None, "") else scrub_data(v))
            for k, v in data.items()
        }
    if isinstance(data, list | tuple):
        return [scrub_data(v) for v in data]
    if isinstance(data, str):
        return scrub(data)
    return data


class ScrubbingStream:
    """A text stream that scrubs every write before passing it on (stdout, stderr)."""

    def __init__(self, inner: TextIO) -> None:
        self._inner = inner

    def write(self, text: str) -> int:
        self._inner.write(scrub(text) if isinstance(text, str) else text)
        return len(text)

    def writelines(self, lines: Iterable[str]) -> None:
        for line in lines:
            self.write(line)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


def _record_factory(base: Any) -> Any:
    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = base(*args, **kwargs)
        try:
            message = record.getMessage()
        except Exception:  # a broken format string: let logging report it as usual
            return record
        record.msg, record.args = scrub(message), ()
        if record.exc_info and not record.exc_text:
            record.exc_text = scrub(logging.Formatter().formatException(record.exc_info))
        return record

    factory.tsys_scrubbing = True  # type: ignore[attr-defined]
    return factory


def install() -> None:
    """Scrub this process's stdout, stderr and every log record (idempotent)."""
    for name in ("stdout", "stderr"):
        stream = getattr(sys, name)
        if stream is not None and not isinstance(stream, ScrubbingStream):
            setattr(sys, name, ScrubbingStream(stream))
    base = logging.getLogRecordFactory()
    if not getattr(base, "tsys_scrubbing", False):
        logging.setLogRecordFactory(_record_factory(base))


def uninstall() -> None:
    """Undo :func:`install` for the streams (a test runner swaps them back itself)."""
    for name in ("stdout", "stderr"):
        stream = getattr(sys, name)
        if isinstance(stream, ScrubbingStream):
            setattr(sys, name, stream._inner)
