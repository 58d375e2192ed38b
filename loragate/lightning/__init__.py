"""Wan 2.2 Lightning (lightx2v Wan2.2-Lightning): the artist's choice, the files, and their checks."""
