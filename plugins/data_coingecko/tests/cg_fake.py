"""A loopback CoinGecko: ``/api/v3/coins/markets`` as a bare JSON array, paged and filtered.

Shapes follow EXTERNAL_APIS.md section 4.1: lower-case symbols, nullable market caps, a 429 body
``{"status": {"error_code": 429, "error_message": ...}}``, no pagination token.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from typing import Any

from werkzeug import Request, Response

KEY = "CG-SECRETKEY456"
NOW = dt.datetime(2024, 5, 3, 0, 30, tzinfo=dt.UTC)
RATE_LIMIT_BODY = {
    "status": {
        "error_code": 429,
        "error_message": "You've exceeded the Rate Limit. Please visit "
        "https://www.coingecko.com/en/api/pricing to subscribe to our API plans for higher "
        "rate limits.",
    }
}

#: (id, symbol, name, market cap or None, categories)
COINS: list[tuple[str, str, str, float | None, tuple[str, ...]]] = [
    ("bitcoin", "btc", "Bitcoin", 1.18e12, ()),
    ("ethereum", "eth", "Ethereum", 3.6e11, ()),
    ("tether", "usdt", "Tether", 1.1e11, ("stablecoins",)),
    ("binancecoin", "bnb", "BNB", 8.7e10, ()),
    ("solana", "sol", "Solana", 6.5e10, ()),
    ("usd-coin", "usdc", "USDC", 3.3e10, ("stablecoins",)),
    ("staked-ether", "steth", "Lido Staked Ether", 2.9e10, ("liquid-staking-tokens",)),
    ("ripple", "xrp", "XRP", 2.8e10, ()),
    ("wrapped-bitcoin", "wbtc", "Wrapped Bitcoin", 9.5e9, ("wrapped-tokens",)),
    ("dai", "dai", "Dai", 5.3e9, ("stablecoins",)),
    ("some-token", "tok", "Some Token", None, ()),
    ("weird", "usdc.e", "Bridged USDC", 1.2e9, ("wrapped-tokens",)),
    ("binance-peg-ethereum", "eth", "Binance-Peg Ethereum", 8.0e8, ("wrapped-tokens",)),
    ("matic-network", "matic", "Polygon", 7.0e8, ()),
    ("tiny-stable", "tusx", "Tiny Stable", 1.0e6, ("stablecoins",)),
]


def coin_json(cid: str, sym: str, name: str, cap: float | None, rank: int) -> dict[str, Any]:
    price = None if cap is None else round(cap / 1e7, 2)
    return {
        "id": cid,
        "symbol": sym,
        "name": name,
        "image": f"https://assets.example.test/{cid}.png",
        "current_price": price,
        "market_cap": cap,
        "market_cap_rank": rank if cap is not None else None,
        "fully_diluted_valuation": None,
        "total_volume": 1.0e9,
        "high_24h": price,
        "low_24h": price,
        "price_change_24h": -0.1,
        "price_change_percentage_24h": -0.2,
        "market_cap_change_24h": -2.3e6,
        "market_cap_change_percentage_24h": -0.19,
        "circulating_supply": 19650000.0,
        "total_supply": 21000000.0,
        "max_supply": None,
        "ath": 73000,
        "ath_change_percentage": -17.8,
        "ath_date": "2024-03-14T07:10:36.635Z",
        "atl": 67.81,
        "atl_change_percentage": 88000.1,
        "atl_date": "2013-07-06T00:00:00.000Z",
        "roi": None,
        "last_updated": "2024-05-03T00:20:00.000Z",
    }


class FakeCoinGecko:
    def __init__(self) -> None:
        self.coins = list(COINS)
        self.script: list[Any] = []
        self.calls: list[tuple[dict[str, str], dict[str, str]]] = []

    def handle(self, request: Request) -> Response:
        args = dict(request.args)
        self.calls.append((args, {k.lower(): v for k, v in request.headers.items()}))
        if self.script:
            step = self.script.pop(0)
            if callable(step):
                return step(request)
            status, body, headers = step
            return Response(body, status=status, headers=headers, content_type="application/json")
        if args.get("vs_currency") != "usd":
            return self._json({"error": "missing 'vs_currency' parameter"}, 400)
        coins = [c for c in self.coins if c[3] is not None or "category" not in args]
        if "category" in args:
            coins = [c for c in self.coins if args["category"] in c[4]]
        # CoinGecko puts coins without a market cap last in market_cap_desc order.
        coins.sort(key=lambda c: -(c[3] or 0.0))
        per_page, page = int(args.get("per_page", "100")), int(args.get("page", "1"))
        chunk = coins[(page - 1) * per_page : page * per_page]
        start = (page - 1) * per_page
        return self._json(
            [coin_json(c[0], c[1], c[2], c[3], start + i + 1) for i, c in enumerate(chunk)]
        )

    def _json(self, obj: Any, status: int = 200) -> Response:
        return Response(json.dumps(obj), status=status, content_type="application/json")


def sleeper(seconds: float):
    def handler(request: Request) -> Response:
        time.sleep(seconds)
        return Response("[]", content_type="application/json")

    return handler
