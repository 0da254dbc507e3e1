"""tsys-bucket-options: Bucket D, unusual options flow (follow or fade the alerts).

Import-light on purpose: the bucket (numpy, pandas) loads only when the registry asks for it.
"""

from tsys.api import hookimpl

__version__ = "0.1.0"


@hookimpl
def register_buckets(register):
    from tsys_bucket_options.bucket import OptionsFlowBucket

    register(OptionsFlowBucket())
