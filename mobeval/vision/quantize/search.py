"""The mixed-precision search: which layers to keep at a higher precision so that a quantized model
meets a target on validation images, keeping as few as it can.

1. Order the layers, most damaging first, by one of:
   - `sensitivity`: each layer quantized *alone* (every other layer kept), the output SQNR of the model
     on the validation images (lowest first): one quantization and one pass over the images per layer;
   - `sqnr`: the layer's own weight SQNR in the fully quantized model (lowest first): no extra pass;
   - any order the caller gives (the bench compares orders on the same images).
2. Greedy over prefixes of that order: keep the first k layers, for k on a doubling grid 0, 1, 2, 4, ...
   up to every layer, then bisect between the largest k that misses the target and the smallest that
   meets it. Every k tried is a trial with its size, output SQNR and top-1 on the validation images.

The target is a share of the float model's top-1 on the validation images (`top1`) or an output SQNR in
dB (`sqnr`). Calibration, validation and evaluation images are three disjoint sets (the caller's job;
`mobeval quantize` refuses overlap).
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Literal

import numpy as np
from pydantic import BaseModel

from mobeval.core.errors import MobevalError
from mobeval.vision.quantize.fidelity import run_model, sqnr_db, weight_sqnr
from mobeval.vision.quantize.mixed import KeepAs, KeptLayers, Layer
from mobeval.vision.quantize.qdq import batched, quantize_to
from mobeval.vision.quantize.scheme import QuantScheme

ORDERS = ("sensitivity", "sqnr")
TargetKind = Literal["top1", "sqnr"]


class SearchTarget(BaseModel):
    kind: TargetKind
    value: float  # share of float top-1 (0..1], or dB

    @property
    def label(self) -> str:
        return (f"keep {100 * self.value:.1f}% of float top-1" if self.kind == "top1"
                else f"output SQNR >= {self.value:g} dB") + " on the validation images"


class Trial(BaseModel):
    """A model with its first `kept` layers (in the search's order) at the higher precision."""

    kept: int
    layers: list[str]  # node names kept
    size_bytes: int
    output_sqnr_db: float  # logits against the float model's, validation images
    top1: float | None  # validation top-1 (None without labels)
    retention: float | None  # top1 / float top-1
    meets: bool


class LayerRank(BaseModel):
    node: str
    op_type: str
    weight_elements: int
    weight_sqnr_db: float  # in the fully quantized model
    alone_sqnr_db: float | None = None  # output SQNR with this layer alone quantized (sensitivity order)


class SearchOutcome(BaseModel):
    scheme: QuantScheme
    keep_as: KeepAs
    order: str
    target: SearchTarget
    validation_n: int
    float_top1: float | None
    float_size_bytes: int
    ranking: list[LayerRank]  # the search's order, most damaging first
    trials: list[Trial]  # by kept
    chosen: int | None  # kept of the smallest trial that meets the target (None: none does)
    passes: int  # models quantized and run on the validation images (ordering included)

    def trial(self, kept: int) -> Trial:
        return next(t for t in self.trials if t.kept == kept)


class Evaluator:
    """Runs a candidate model on the validation images against the float model's logits."""

    def __init__(self, float_path: Path, inputs: Sequence[np.ndarray], labels: Sequence[int | None],
                 target: SearchTarget):
        self.inputs = list(batched(inputs))
        if not self.inputs:
            raise MobevalError("the mixed-precision search needs validation images")
        self.labels = list(labels)
        self.target = target
        if target.kind == "top1" and any(y is None for y in self.labels):
            raise MobevalError("a top-1 target needs every validation image labelled; use --target-sqnr")
        self.float_logits = np.concatenate(run_model(float_path, self.inputs))
        self.float_top1 = self._top1(self.float_logits)
        if target.kind == "top1" and not self.float_top1:
            raise MobevalError("the float model gets no validation image right: a share of its top-1 means nothing")
        self.passes = 0

    def _top1(self, logits: np.ndarray) -> float | None:
        if not self.labels or any(y is None for y in self.labels):
            return None
        return float(np.mean(logits.argmax(axis=1) == np.array(self.labels)))

    def trial(self, path: Path, layers: list[str]) -> Trial:
        logits = np.concatenate(run_model(path, self.inputs))
        self.passes += 1
        if not np.all(np.isfinite(logits)):
            raise MobevalError(f"{path.name}: non-finite outputs on the validation images")
        top1 = self._top1(logits)
        sqnr = sqnr_db(self.float_logits, logits)
        retention = top1 / self.float_top1 if top1 is not None and self.float_top1 else None
        meets = (retention is not None and retention >= self.target.value) if self.target.kind == "top1" \
            else sqnr >= self.target.value
        return Trial(kept=len(layers), layers=layers, size_bytes=path.stat().st_size, output_sqnr_db=sqnr,
                     top1=top1, retention=retention, meets=meets)


class Search:
    """One search: a float model, a scheme, calibration inputs (their calibration cache) and an evaluator."""

    def __init__(self, float_path: Path, scheme: QuantScheme, calibration: Sequence[np.ndarray], cache: Path,
                 layers: list[Layer], keep_as: KeepAs, evaluator: Evaluator,
                 progress: Callable[[str], None] = lambda _line: None):
        self.float_path, self.scheme, self.calibration, self.cache = float_path, scheme, list(calibration), cache
        self.layers, self.keep_as, self.evaluator, self.progress = layers, keep_as, evaluator, progress
        self._tmp = tempfile.TemporaryDirectory(prefix="mobeval-mixed-")

    def close(self) -> None:
        self._tmp.cleanup()

    def run_kept(self, nodes: Sequence[str]) -> Trial:
        dest = Path(self._tmp.name) / "trial.onnx"
        kept = KeptLayers(keep_as=self.keep_as, layers=tuple(nodes))
        quantize_to(self.float_path, dest, self.scheme, self.calibration, kept, self.layers, self.cache)
        try:
            return self.evaluator.trial(dest, list(nodes))
        finally:
            dest.unlink(missing_ok=True)

    def weight_ranking(self) -> list[LayerRank]:
        """Layers by their weight SQNR in the fully quantized model, worst first."""
        dest = Path(self._tmp.name) / "all.onnx"
        quantize_to(self.float_path, dest, self.scheme, self.calibration, None, self.layers, self.cache)
        by_weight = {w.name: w.sqnr_db for w in weight_sqnr(self.float_path, dest)}
        dest.unlink(missing_ok=True)
        ranks = [LayerRank(node=layer.node, op_type=layer.op_type, weight_elements=layer.elements,
                           weight_sqnr_db=by_weight.get(layer.weight, float("inf"))) for layer in self.layers]
        return sorted(ranks, key=lambda r: r.weight_sqnr_db)

    def sensitivity_ranking(self, ranks: list[LayerRank]) -> list[LayerRank]:
        """Each layer quantized alone (every other kept), lowest output SQNR first."""
        names = [layer.node for layer in self.layers]
        out = []
        for k, r in enumerate(ranks, 1):
            t = self.run_kept([n for n in names if n != r.node])
            self.progress(f"sensitivity {k}/{len(ranks)}: {r.node} alone quantized: output SQNR "
                          f"{t.output_sqnr_db:.1f} dB")
            out.append(r.model_copy(update={"alone_sqnr_db": t.output_sqnr_db}))
        return sorted(out, key=lambda r: (r.alone_sqnr_db, r.weight_sqnr_db))

    def greedy(self, order: list[str]) -> tuple[list[Trial], int | None]:
        """Prefixes of `order` on the doubling grid, then bisection; the trials and the chosen k."""
        n = len(order)
        trials: dict[int, Trial] = {}

        def run(k: int) -> Trial:
            if k not in trials:
                trials[k] = self.run_kept(order[:k])
                t = trials[k]
                acc = "" if t.top1 is None else f"top-1 {100 * t.top1:.1f}% ({100 * (t.retention or 0):.1f}% of float), "
                self.progress(f"keep {k:>3} of {n}: {acc}output SQNR {t.output_sqnr_db:.1f} dB, "
                              f"{t.size_bytes / 1e6:.2f} MB{'  meets the target' if t.meets else ''}")
            return trials[k]

        grid = sorted({0, n, *(2 ** j for j in range(n.bit_length()) if 2 ** j < n)})
        for k in grid:
            run(k)
        passing = [k for k in grid if trials[k].meets]
        if not passing:
            return sorted(trials.values(), key=lambda t: t.kept), None
        hi = passing[0]
        lo = max([k for k in grid if k < hi], default=None)
        while lo is not None and hi - lo > 1:
            mid = (lo + hi) // 2
            if run(mid).meets:
                hi = mid
            else:
                lo = mid
        return sorted(trials.values(), key=lambda t: t.kept), hi


def search(float_path: Path, scheme: QuantScheme, calibration: Sequence[np.ndarray], cache: Path,
           layers: list[Layer], keep_as: KeepAs, evaluator: Evaluator, target: SearchTarget,
           order: str | list[str] = "sensitivity",
           progress: Callable[[str], None] = lambda _line: None) -> SearchOutcome:
    """The whole search; `order` is "sensitivity", "sqnr" or the node names themselves, most damaging first."""
    s = Search(float_path, scheme, calibration, cache, layers, keep_as, evaluator, progress)
    try:
        ranking = s.weight_ranking()
        if order == "sensitivity":
            ranking = s.sensitivity_ranking(ranking)
        elif isinstance(order, list):
            by_node = {r.node: r for r in ranking}
            missing = [n for n in order if n not in by_node]
            if missing or len(order) != len(ranking):
                raise MobevalError(f"an order must name each of the {len(ranking)} layers once"
                                   f"{'; unknown: ' + ', '.join(missing[:3]) if missing else ''}")
            ranking = [by_node[n] for n in order]
        elif order != "sqnr":
            raise MobevalError(f"--order {order}: one of {', '.join(ORDERS)}")
        trials, chosen = s.greedy([r.node for r in ranking])
    finally:
        s.close()
    return SearchOutcome(scheme=scheme, keep_as=keep_as, order=order if isinstance(order, str) else "given",
                         target=target, validation_n=len(evaluator.inputs), float_top1=evaluator.float_top1,
                         float_size_bytes=float_path.stat().st_size, ranking=ranking, trials=trials, chosen=chosen,
                         passes=evaluator.passes)


def pareto(trials: Sequence[Trial]) -> list[Trial]:
    """Trials no other trial beats on size (smaller), top-1 and output SQNR at once (the validation
    images' top-1 moves in steps, so SQNR, which does not, separates trials it ties)."""
    def scores(t: Trial) -> tuple[float, float, float]:
        return (-t.size_bytes, t.top1 if t.top1 is not None else 0.0, t.output_sqnr_db)

    def beats(o: Trial, t: Trial) -> bool:
        a, b = scores(o), scores(t)
        return all(x >= y for x, y in zip(a, b)) and a != b

    return sorted([t for t in trials if not any(beats(o, t) for o in trials if o is not t)],
                  key=lambda t: t.size_bytes)
