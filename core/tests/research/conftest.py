import sys
from pathlib import Path

import pytest

# The synthetic markets and tiny buckets live beside the tests (import mode is importlib).
sys.path.insert(0, str(Path(__file__).resolve().parent))


@pytest.fixture
def data_dir(tmp_path, monkeypatch):
    d = tmp_path / "data"
    monkeypatch.setenv("TSYS_DATA_DIR", str(d))
    monkeypatch.delenv("TSYS_CONFIG", raising=False)
    monkeypatch.chdir(tmp_path)
    return d
