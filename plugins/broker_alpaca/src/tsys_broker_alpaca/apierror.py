"""Alpaca error answers as short messages that never carry the API key or secret.

alpaca-py raises ``APIError(body)`` for any non-2xx answer, and ``str(e)`` is the raw body. A
proxy or a debugging server may echo the request headers in that body (``APCA-API-KEY-ID``,
``APCA-API-SECRET-KEY``, ``Authorization``), so every message made from it is redacted here:
the configured key and secret values, and any value after one of those header names.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import Any

REDACTED = "***"
#: Shortest secret value replaced as such (shorter ones would mask ordinary words).
MIN_SECRET = 4
_HEADER = re.compile(
    r"(APCA-API-KEY-ID|APCA-API-SECRET-KEY|Authorization|key_id|secret_key)"
    r"([\"']?\s*[:=]\s*[\"']?)((?:Bearer |Basic )?[^\s\"',;}&]+)",
    re.IGNORECASE,
)


def redact(text: str, secrets: Iterable[str | None] = ()) -> str:
    """``text`` without the ``secrets`` values and without any value of an auth header."""
    for s in sorted((s for s in secrets if s and len(s) >= MIN_SECRET), key=len, reverse=True):
        text = text.replace(s, REDACTED)
    return _HEADER.sub(lambda m: m.group(1) + m.group(2) + REDACTED, text)


def error_parts(exc: Any, secrets: Iterable[str | None] = ()) -> tuple[int | None, str]:
    """Status and a readable, redacted message of an alpaca-py ``APIError``.

    ``exc.code`` / ``exc.message`` raise on a non-JSON body or a body without ``code``, so the
    body is parsed here instead. Only its ``message`` is kept (never the other keys a body may
    echo); a body that is not JSON is cut to 200 characters.
    """
    status = getattr(exc, "status_code", None)
    text = str(exc)
    try:
        body = json.loads(text)
    except ValueError:
        body = None
    if isinstance(body, dict) and "message" in body:
        message = " ".join(str(body["message"]).split())[:300]
    else:
        message = " ".join(text.split())[:200] or "(empty body)"
    return status, redact(message, secrets)
