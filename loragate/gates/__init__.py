"""The gate ledger: each gate's verdict with a fingerprint of what it judged."""
