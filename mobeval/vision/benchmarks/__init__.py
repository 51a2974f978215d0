"""Image-classification benchmarks: ImageFolder trees (ImageNet's layout included) and a bundled set."""
