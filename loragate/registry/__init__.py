"""Registered LoRAs: the studio.md entries /art reads, and registration after an evaluation."""
