import os

from hypothesis import HealthCheck, settings

settings.register_profile("dev", max_examples=50, deadline=None)
# a long search before a release: HYPOTHESIS_PROFILE=deep uv run pytest <property test files>
settings.register_profile(
    "deep", max_examples=1000, deadline=None, suppress_health_check=list(HealthCheck)
)
settings.register_profile(
    "ci", max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile("ci" if os.environ.get("CI") else os.environ.get("HYPOTHESIS_PROFILE", "dev"))
