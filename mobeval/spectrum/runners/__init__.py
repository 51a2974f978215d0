"""Spectrum occupancy detectors: each returns one occupancy score per FFT bin of a capture."""
