"""Run plumbing: config, run metadata, checkpoints, plots and logger media."""
