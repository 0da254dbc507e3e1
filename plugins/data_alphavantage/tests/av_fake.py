"""A loopback Alpha Vantage: one ``/query`` route speaking the real wire formats.

Success bodies follow EXTERNAL_APIS.md section 2 (strings where Alpha Vantage sends strings);
every error is HTTP 200 with ``Information`` / ``Note`` / ``Error Message``, as the real API does.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from typing import Any

from werkzeug import Request, Response

KEY = "SECRETKEY123"
NOW = dt.datetime(2024, 5, 3, 22, 0, tzinfo=dt.UTC)

QUOTA = (
    "Thank you for using Alpha Vantage! Our standard API rate limit is 25 requests per day. "
    "Please subscribe to any of the premium plans at https://www.alphavantage.co/premium/ to "
    "instantly remove all daily rate limits."
)
QUOTA_WITH_KEY = (
    f"We have detected your API key as {KEY} and our standard API rate limit is 25 requests "
    "per day. Please subscribe to any of the premium plans at "
    "https://www.alphavantage.co/premium/ to instantly remove all daily rate limits."
)
BURST = (
    "Thank you for using Alpha Vantage! Please consider spreading out your free API requests "
    "more sparingly (1 request per second). You may subscribe to any of the premium plans at "
    "https://www.alphavantage.co/premium/ to lift the free key rate limit (25 requests per day)."
)
NOTE = (
    "Thank you for using Alpha Vantage! Our standard API call frequency is 5 calls per minute "
    "and 500 calls per day. Please visit https://www.alphavantage.co/premium/ if you would like "
    "to target a higher API call frequency."
)
BAD_KEY = (
    "the parameter apikey is invalid or missing. Please claim your free API key on "
    "(https://www.alphavantage.co/support/#api-key). It should take less than 20 seconds."
)
INVALID_CALL = (
    "Invalid API call. Please retry or visit the documentation "
    "(https://www.alphavantage.co/documentation/) for OVERVIEW."
)
INVALID_INPUTS = (
    "Invalid inputs. Please refer to the API documentation "
    "https://www.alphavantage.co/documentation#newsapi and try again."
)
NO_ARTICLES = (
    "No articles found. Please adjust the time range or refer to the API documentation "
    "https://www.alphavantage.co/documentation#newsapi and try again."
)
PREMIUM = (
    "Thank you for using Alpha Vantage! This is a premium endpoint. You may subscribe to any of "
    "the premium plans at https://www.alphavantage.co/premium/ to instantly unlock all premium "
    "endpoints"
)
DEMO = (
    "The **demo** API key is for demo purposes only. Please claim your free API key at "
    "(https://www.alphavantage.co/support/#api-key)."
)


def label(score: float) -> str:
    if score <= -0.35:
        return "Bearish"
    if score <= -0.15:
        return "Somewhat-Bearish"
    if score < 0.15:
        return "Neutral"
    if score < 0.35:
        return "Somewhat-Bullish"
    return "Bullish"


class FakeAlphaVantage:
    """State of the fake: articles, overviews, the calendar, and scripted failures."""

    def __init__(self) -> None:
        #: (time "YYYYMMDDTHHMMSS", title, {ticker: (score, relevance)})
        self.articles: list[tuple[str, str, dict[str, tuple[float, float]]]] = []
        self.overviews: dict[str, dict[str, str]] = {}
        self.calendar_csv = (
            "symbol,name,reportDate,fiscalDateEnding,estimate,currency,timeOfTheDay\n"
        )
        #: Scripted answers used before normal service, oldest first: a callable(request) or
        #: a (status, body, content_type) triple.
        self.script: list[Any] = []
        self.calls: list[dict[str, str]] = []

    def add_article(self, when: str, title: str, **tickers: tuple[float, float]) -> None:
        self.articles.append((when, title, tickers))

    def handle(self, request: Request) -> Response:
        args = dict(request.args)
        self.calls.append(args)
        if self.script:
            step = self.script.pop(0)
            if callable(step):
                return step(request)
            status, body, ctype = step
            return Response(body, status=status, content_type=ctype)
        if args.get("apikey") != KEY:
            return self._json({"Error Message": BAD_KEY})
        fn = args.get("function")
        if fn == "NEWS_SENTIMENT":
            return self._news(args)
        if fn == "OVERVIEW":
            return self._json(self.overviews.get(args.get("symbol", ""), {}))
        if fn == "EARNINGS_CALENDAR":
            return Response(self.calendar_csv, content_type="application/x-download")
        return self._json({"Error Message": INVALID_CALL})

    def _json(self, obj: Any) -> Response:
        return Response(json.dumps(obj), content_type="application/json")

    def _news(self, args: dict[str, str]) -> Response:
        tickers = [t for t in args.get("tickers", "").split(",") if t]
        if any(t.startswith("BAD") for t in tickers):
            return self._json({"Information": INVALID_INPUTS})
        lo = args.get("time_from", "00000000T0000") + "00"
        hi = args.get("time_to", "99999999T9999") + "59"
        feed = []
        for when, title, scores in sorted(self.articles, key=lambda a: a[0], reverse=True):
            if not lo <= when <= hi or not all(t in scores for t in tickers):
                continue
            overall = sum(s for s, _ in scores.values()) / len(scores)
            feed.append(
                {
                    "title": title,
                    "url": f"https://news.example.test/{when}",
                    "time_published": when,
                    "authors": ["Jane Doe"],
                    "summary": "...",
                    "banner_image": None,
                    "source": "Example Wire",
                    "category_within_source": "n/a",
                    "source_domain": "news.example.test",
                    "topics": [{"topic": "Earnings", "relevance_score": "0.999"}],
                    "overall_sentiment_score": overall,
                    "overall_sentiment_label": label(overall),
                    "ticker_sentiment": [
                        {
                            "ticker": t,
                            "relevance_score": f"{r:.6f}",
                            "ticker_sentiment_score": f"{s:.6f}",
                            "ticker_sentiment_label": label(s),
                        }
                        for t, (s, r) in scores.items()
                    ],
                }
            )
        feed = feed[: int(args.get("limit", "50"))]
        if not feed:
            return self._json({"Information": NO_ARTICLES})
        return self._json(
            {
                "items": str(len(feed)),
                "sentiment_score_definition": "x <= -0.35: Bearish; -0.35 < x <= -0.15: "
                "Somewhat-Bearish; -0.15 < x < 0.15: Neutral; 0.15 <= x < 0.35: "
                "Somewhat_Bullish; x >= 0.35: Bullish",
                "relevance_score_definition": "0 < x <= 1, with a higher score indicating "
                "higher relevance.",
                "feed": feed,
            }
        )


def sleeper(seconds: float):
    def handler(request: Request) -> Response:
        time.sleep(seconds)
        return Response("{}", content_type="application/json")

    return handler
