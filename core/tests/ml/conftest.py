import sys
from pathlib import Path

# The synthetic markets and tiny buckets live beside the tests (import mode is importlib); the
# test buckets' shared base and plugin installer live beside the research tests.
HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent / "research")]
