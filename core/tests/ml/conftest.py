import sys
from pathlib import Path

# The synthetic markets and tiny buckets live beside the tests (import mode is importlib).
sys.path.insert(0, str(Path(__file__).resolve().parent))
