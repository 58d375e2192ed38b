"""Test stand-in for sd-scripts' sd3_minimal_inference.py (see tests/fakes/README.md)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/fakes

from faketrainer import generate  # noqa: E402

if __name__ == "__main__":
    generate.main_for("sd3_minimal_inference.py")
