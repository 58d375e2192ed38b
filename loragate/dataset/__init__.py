"""Gate 1: the dataset audit (scan, one-decode analysis, captions, clips, size, record)."""
