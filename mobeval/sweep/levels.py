"""GGUF quantization levels a sweep can evaluate: their llama.cpp file types and how precise each is."""

from __future__ import annotations

from dataclasses import dataclass

from mobeval.core.errors import MobevalError

# level -> (llama.cpp ftype constant, nominal bits per weight of its main tensor type). The bits are the
# block sizes of ggml's types (Q8_0: 34 bytes per 32 weights = 8.5; Q6_K: 210 per 256 = 6.5625; ...); a
# _M/_L mix keeps some tensors at a higher type, so it ranks above _S of the same bits.
LEVELS: dict[str, tuple[str, float]] = {
    "F32": ("LLAMA_FTYPE_ALL_F32", 32.0),
    "F16": ("LLAMA_FTYPE_MOSTLY_F16", 16.0),
    "BF16": ("LLAMA_FTYPE_MOSTLY_BF16", 15.99),  # same bits as F16, fewer mantissa bits
    "Q8_0": ("LLAMA_FTYPE_MOSTLY_Q8_0", 8.5),
    "Q6_K": ("LLAMA_FTYPE_MOSTLY_Q6_K", 6.5625),
    "Q5_1": ("LLAMA_FTYPE_MOSTLY_Q5_1", 6.0),
    "Q5_K_M": ("LLAMA_FTYPE_MOSTLY_Q5_K_M", 5.52),
    "Q5_K_S": ("LLAMA_FTYPE_MOSTLY_Q5_K_S", 5.51),
    "Q5_0": ("LLAMA_FTYPE_MOSTLY_Q5_0", 5.5),
    "Q4_1": ("LLAMA_FTYPE_MOSTLY_Q4_1", 5.0),
    "Q4_K_M": ("LLAMA_FTYPE_MOSTLY_Q4_K_M", 4.52),
    "Q4_K_S": ("LLAMA_FTYPE_MOSTLY_Q4_K_S", 4.51),
    "Q4_0": ("LLAMA_FTYPE_MOSTLY_Q4_0", 4.5),
    "Q3_K_L": ("LLAMA_FTYPE_MOSTLY_Q3_K_L", 3.4377),
    "Q3_K_M": ("LLAMA_FTYPE_MOSTLY_Q3_K_M", 3.4376),
    "Q3_K_S": ("LLAMA_FTYPE_MOSTLY_Q3_K_S", 3.4375),
    "Q2_K": ("LLAMA_FTYPE_MOSTLY_Q2_K", 2.625),
}
# Not offered: the IQ*, TQ* and Q2_K_S types need an importance matrix or a ternary model, which a sweep
# from an F16 file does not have.
FLOAT_LEVELS = ("F32", "F16", "BF16")


@dataclass(frozen=True)
class Level:
    name: str  # as the user writes it: Q4_K_M
    ftype_constant: str  # llama_cpp attribute: LLAMA_FTYPE_MOSTLY_Q4_K_M
    bits: float  # nominal bits per weight, for ordering by precision

    @property
    def ftype(self) -> int:
        import llama_cpp

        return int(getattr(llama_cpp, self.ftype_constant))


def level(name: str) -> Level:
    key = name.strip().upper()
    if key not in LEVELS:
        raise MobevalError(f"--quants: unknown quantization level {name.strip()!r}; known levels: "
                           f"{', '.join(LEVELS)} (IQ*/TQ* types need an importance matrix and are not offered)")
    constant, bits = LEVELS[key]
    return Level(key, constant, bits)


def parse_levels(text: str) -> list[Level]:
    """`Q8_0,Q4_K_M,...` as Levels, most precise first; an unknown or repeated name is an error."""
    names = [n for n in (p.strip() for p in text.split(",")) if n]
    if not names:
        raise MobevalError("--quants: give at least one level, e.g. --quants Q8_0,Q4_K_M,Q2_K")
    levels = [level(n) for n in names]
    seen: set[str] = set()
    for lv in levels:
        if lv.name in seen:
            raise MobevalError(f"--quants: {lv.name} is given twice")
        seen.add(lv.name)
    return sorted(levels, key=lambda lv: -lv.bits)
