"""A stand-in for diffusers 0.32.1, so the environment probe finds it installed and importable."""

__version__ = "0.32.1"
