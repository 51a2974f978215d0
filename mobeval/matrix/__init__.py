"""`mobeval matrix`: a plan of models x quantizations x benchmarks x runners x devices, run as jobs on Ray."""
