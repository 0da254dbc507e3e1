"""tsys-bucket-sp500: Bucket A, S&P 500 trend and momentum with a regime filter.

Import-light on purpose: the bucket (numpy, pandas) loads only when the registry asks for it.
"""

from tsys.api import hookimpl

__version__ = "0.1.0"


@hookimpl
def register_buckets(register):
    from tsys_bucket_sp500.bucket import Sp500Bucket

    register(Sp500Bucket())
