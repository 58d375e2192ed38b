"""Shared engine of the trainer stand-ins: the real flag lists, dataset reading, output formats.

Written from the documented behaviour in the reference notes (musubi-tuner.md, sd-scripts.md);
no upstream code. Faults are injected through FAKE_* environment variables (faults.py).
"""
