"""The options of the Alpaca broker (``[broker.options]``) and data source
(``[data.options.alpaca]``), structured by ``tsys.api.structure_options``. The keys come from
ALPACA_API_KEY and ALPACA_API_SECRET only."""

from __future__ import annotations

from typing import Any

import attrs

from tsys.api import (
    FieldError,
    above,
    at_least,
    http_url,
    one_of,
    secret_field,
)


def _host_only(inst: Any, attribute: attrs.Attribute, value: str | None) -> None:
    if value is not None and (value.endswith("/") or value.endswith("/v2")):
        raise FieldError(
            attribute.name,
            "must be the host only, e.g. https://paper-api.alpaca.markets (no trailing slash, "
            f"no /v2), got {value!r}",
        )


def _band(inst: Any, attribute: attrs.Attribute, value: float) -> None:
    if not 0 < value < 0.5:
        raise FieldError(attribute.name, f"must be above 0 and below 0.5, got {value!r}")


@attrs.frozen
class AlpacaOptions:
    """``[broker.options]`` of the alpaca broker."""

    #: True trades real money, and only with ALPACA_PAPER=false as well.
    live: bool = False
    #: Host override (``http://127.0.0.1:PORT`` for a test server; no trailing ``/v2``).
    base_url: str | None = attrs.field(default=None, validator=[http_url(), _host_only])
    crypto_time_in_force: str = attrs.field(default="gtc", validator=one_of("gtc", "ioc"))
    brackets: bool = False
    protective_stops: bool = True
    crypto_stop_band: float = attrs.field(default=0.02, validator=_band)
    timeout: float = attrs.field(default=15.0, validator=above(0))
    attempts: int = attrs.field(default=4, validator=at_least(1))
    backoff: float = attrs.field(default=2.0, validator=at_least(0))
    api_key: str | None = secret_field("ALPACA_API_KEY")
    secret_key: str | None = secret_field("ALPACA_API_SECRET")

    def broker_kwargs(self) -> dict[str, Any]:
        """The :class:`AlpacaBroker` arguments these options set (not the keys, not live)."""
        skip = {"live", "api_key", "secret_key"}
        return {k: v for k, v in attrs.asdict(self, recurse=False).items() if k not in skip}


@attrs.frozen
class AlpacaDataOptions:
    """``[data.options.alpaca]`` of the alpaca data source."""

    feed: str = attrs.field(default="iex", validator=one_of("iex", "sip", "delayed_sip"))
    adjustment: str = attrs.field(
        default="all", validator=one_of("raw", "split", "dividend", "all")
    )
    symbols: list[str] = attrs.field(factory=list)
    base_url: str | None = attrs.field(default=None, validator=http_url())
    #: None: the source's cache folder.
    cache_dir: str | None = None
    api_key: str | None = secret_field("ALPACA_API_KEY")
    secret_key: str | None = secret_field("ALPACA_API_SECRET")
