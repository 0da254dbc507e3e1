"""The example bucket's logic (imported only when buckets are listed)."""

import attrs
import numpy as np

from tsys.api import AssetClass, Bucket, BucketOutput, param


@attrs.frozen
class Params:
    window: int = param(50, low=10, high=200, help="moving-average length in bars")


class AboveAverage(Bucket):
    name = "example"
    asset_class = AssetClass.EQUITY
    version = "0.0.1"
    Params = Params
    description = "close above its moving average"
    warmup_bars = 50

    def universe(self, ctx):
        return ctx.data.symbols(AssetClass.EQUITY)[:20]

    def compute(self, ctx, bars, params):
        close = bars.close
        t, n = close.shape
        csum = np.nancumsum(close, axis=0)
        avg = np.full((t, n), np.nan)
        w = params.window
        avg[w - 1 :] = (csum[w - 1 :] - np.vstack([np.zeros((1, n)), csum[:-w]])) / w
        above = close > avg
        score = np.where(above, close / avg - 1.0, np.nan)
        return BucketOutput(
            score=score,
            entries=above,
            exits=~above,
            stop=close * 0.9,
        )
