"""A bucket's search space may depend on the parameter set it starts from (its mode), and every
search (optimize, research, validate's perturbations) asks for the space of the set it runs."""

from __future__ import annotations

from typing import Any

import attrs
import numpy as np

from tsys.buckets import Bucket, BucketOutput, param, space_for


@attrs.frozen
class ModalParams:
    mode: str = param("a", choices=("a", "b"), help="which family of rules")
    a_window: int = param(10, low=5, high=20, help="mode a only")
    b_level: float = param(0.5, low=0.1, high=0.9, help="mode b only")


class Modal(Bucket):
    name = "modal"
    asset_class = "equity"
    version = "0"
    Params = ModalParams
    warmup_bars = 5

    def universe(self, ctx: Any) -> list[str]:
        return []

    def compute(self, ctx: Any, bars: Any, params: Any) -> BucketOutput:
        T, N = bars.shape
        return BucketOutput(score=np.zeros((T, N)))

    def search_space(self, params: Any = None) -> dict[str, dict[str, Any]]:
        space = super().search_space(params)
        keep = "a_window" if self.params_of(params).mode == "a" else "b_level"
        return {k: v for k, v in space.items() if k == keep}


class OldStyle(Modal):
    """A bucket written before search_space took the parameters."""

    name = "old"

    def search_space(self) -> dict[str, dict[str, Any]]:  # type: ignore[override]
        return {"a_window": super().search_space()["a_window"]}


def test_the_space_follows_the_parameters_mode():
    b = Modal()
    assert set(b.search_space()) == {"a_window"}  # the defaults' mode
    assert set(space_for(b)) == {"a_window"}
    assert set(space_for(b, {"mode": "b"})) == {"b_level"}  # a mapping: defaults + values
    assert set(space_for(b, ModalParams(mode="b"))) == {"b_level"}
    assert b.params_of({"mode": "b"}) == ModalParams(mode="b")
    assert b.params_of(None) == ModalParams()
    # the base class, asked with any parameters, searches every declared range
    assert set(Bucket.search_space(b, ModalParams(mode="b"))) == {"mode", "a_window", "b_level"}


def test_a_bucket_without_the_argument_still_works():
    assert set(space_for(OldStyle(), {"mode": "b"})) == {"a_window"}


def test_optimize_research_and_validate_ask_for_the_space_of_their_parameters(monkeypatch):
    """BucketEvaluator (optimize, validate) and the research loop search what the parameter
    set they start from reads: sp500 in members mode searches the stock-picking parameters,
    not the trend book's (the shipped default mode)."""
    from tsys_bucket_sp500.bucket import TREND_PARAMS, Sp500Bucket

    from tsys.optimize.bucket import BucketEvaluator
    from tsys.research.loop import longest_holding

    bucket = Sp500Bucket()
    members = {**attrs.asdict(bucket.default_params()), "mode": "members"}
    ev = BucketEvaluator("sp500", source="demo", base_params=members)
    space = ev.search_space()
    assert space and not set(space) & TREND_PARAMS and "atr_stop" in space
    trend = BucketEvaluator("sp500", source="demo")
    assert set(trend.search_space()) == {"slot_vol", "book_vol"}
    # the research embargo reads the members' time stop range, not the trend book's
    assert longest_holding(bucket, members) == space["time_stop_bars"]["high"]
