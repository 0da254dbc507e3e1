"""The daily pipeline: as-of resolution, bucket runs, portfolio construction, artifacts."""
