"""Quantization sweeps: one GGUF model at several llama.cpp quantization levels on one benchmark.

- `levels.py`: the level names, their llama.cpp file types and precision order;
- `f16.py`: an F16 GGUF written from a quantized GGUF's dequantized weights (the quantizer's input offline);
- `files.py`: each level's file, published or made by llama.cpp's quantizer, cached by source hash + type;
- `runs.py`: each level as an ordinary run through the engine, reused or continued on a rerun;
- `table.py`: per-level figures, the paired comparison with the reference level, the Pareto fronts;
- `sweep.py`: the whole sweep and its sweep.json; `render.py`: the terminal table and Pareto view.
"""

from mobeval.sweep.levels import LEVELS, Level, parse_levels
from mobeval.sweep.sweep import Events, SweepOutcome, SweepRequest, run_sweep

__all__ = ["LEVELS", "Events", "Level", "SweepOutcome", "SweepRequest", "parse_levels", "run_sweep"]
