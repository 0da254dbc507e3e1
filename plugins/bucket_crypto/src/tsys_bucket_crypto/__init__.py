"""tsys-bucket-crypto: Bucket B, top market-cap crypto momentum slots behind a BTC regime gate.

Import-light on purpose: the bucket (numpy, pandas) loads only when the registry asks for it.
"""

from tsys.api import hookimpl

__version__ = "0.2.0"


@hookimpl
def register_buckets(register):
    from tsys_bucket_crypto.bucket import CryptoBucket

    register(CryptoBucket())
