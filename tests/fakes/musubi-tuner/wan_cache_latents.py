import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent / "src"))  # upstream relies on `pip install -e .`

from musubi_tuner.wan_cache_latents import main  # noqa: E402

if __name__ == "__main__":
    main()
