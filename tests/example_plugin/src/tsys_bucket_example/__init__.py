"""An example bucket: buy symbols whose close is above their 50-day average."""

from tsys.api import hookimpl


@hookimpl
def register_buckets(register):
    from tsys_bucket_example.bucket import AboveAverage

    register(AboveAverage())
