"""Duplicate images and clips: signatures, search, groups, contact sheets, quarantine."""
