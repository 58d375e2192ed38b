"""Test stand-in for musubi-tuner's flux_kontext_generate_image.py (see tests/fakes/README.md)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))  # tests/fakes

from faketrainer import generate  # noqa: E402


def main() -> None:
    generate.main_for("flux_kontext_generate_image.py")


if __name__ == "__main__":
    main()
