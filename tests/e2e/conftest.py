"""e2e tests share the operator test world (tests/unit/operator/operator_world.py)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "unit" / "operator"))
