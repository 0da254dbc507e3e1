import sys
from pathlib import Path

# Tests here share helpers (test_local.make_bars, plan); importlib mode needs the folder on path.
sys.path.insert(0, str(Path(__file__).parent))
