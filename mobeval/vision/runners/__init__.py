"""Image classifiers on each runtime: torch (eager), ONNX Runtime, LiteRT. Benchmark-agnostic."""
