"""Captions: write approved captions beside their images (with history), and caption a whole
dataset with Claude's vision seeded by the artist's approved samples."""
