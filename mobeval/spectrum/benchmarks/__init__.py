"""Spectrum benchmarks: the synthetic capture generator (`generate`) and capture files (`capture_io`)."""
