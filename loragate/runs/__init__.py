"""Runs: the dry run (Gate 4), the supervised launch, and the monitor."""
