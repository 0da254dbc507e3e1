"""tsys-bucket-sp500: Bucket A, a SPY/TLT/GLD trend book (stock picks as mode "members").

Import-light on purpose: the bucket (numpy, pandas) loads only when the registry asks for it.
"""

from tsys.api import hookimpl

__version__ = "0.2.0"


@hookimpl
def register_buckets(register):
    from tsys_bucket_sp500.bucket import Sp500Bucket

    register(Sp500Bucket())
