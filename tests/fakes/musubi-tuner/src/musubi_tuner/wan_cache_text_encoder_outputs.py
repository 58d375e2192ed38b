"""Test stand-in for musubi-tuner's wan_cache_text_encoder_outputs.py (see tests/fakes/README.md)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))  # tests/fakes

from faketrainer import musubi  # noqa: E402


def main() -> None:
    musubi.main_for("wan_cache_text_encoder_outputs.py")


if __name__ == "__main__":
    main()
