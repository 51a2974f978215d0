"""Run output: the run folder, the versioned result schema, and the challenge submission file."""
