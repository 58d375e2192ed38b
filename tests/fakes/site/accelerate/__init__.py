"""A stand-in for accelerate 1.6.0, so the environment probe finds it installed and importable."""

__version__ = "1.6.0"
