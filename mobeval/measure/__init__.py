"""Measurement that wraps a run: memory, energy, timing statistics and the machine."""
