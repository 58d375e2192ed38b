"""A stand-in for transformers 4.57.6, so the environment probe finds it installed and importable."""

__version__ = "4.57.6"
