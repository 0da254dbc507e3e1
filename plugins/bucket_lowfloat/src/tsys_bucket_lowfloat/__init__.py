"""tsys-bucket-lowfloat: Bucket C, the low-float "gamble" bucket.

Import-light on purpose: the bucket (numpy, pandas) loads only when the registry asks for it.
"""

from tsys.api import hookimpl

__version__ = "0.1.0"


@hookimpl
def register_buckets(register):
    from tsys_bucket_lowfloat.bucket import LowFloatBucket

    register(LowFloatBucket())
