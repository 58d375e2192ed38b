"""After training: samples, the evaluation grid, its measurements and the evaluation gate."""
