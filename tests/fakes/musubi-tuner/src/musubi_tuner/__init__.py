"""musubi-tuner stand-in package (tests/fakes/README.md)."""
