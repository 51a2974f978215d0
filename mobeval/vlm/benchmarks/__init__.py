"""Image-question benchmarks for the `vlm` task kind: a local JSONL format, MMBench's TSV, Hugging Face
datasets where reachable, and the bundled handwritten-digit set (`vlm-digits`)."""
