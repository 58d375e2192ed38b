"""The training plan: the one object Gates 2-4, launch and monitor work from."""
