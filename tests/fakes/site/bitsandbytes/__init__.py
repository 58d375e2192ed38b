"""A stand-in for bitsandbytes 0.45.5, so the environment probe finds it installed and importable."""

__version__ = "0.45.5"
