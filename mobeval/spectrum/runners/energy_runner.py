"""The `energy-detector` runner: the classical baseline (energy_detector.EnergyDetector) behind the
spectrum-segmenter seam (base.py). No model file and no training; its parameters are the detector's
defaults, recorded in the result (model.parameters and runner.settings)."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import scipy

from mobeval.core.errors import DataError, RunnerError
from mobeval.spectrum.runners.base import SegmenterInfo, SegmenterModel
from mobeval.spectrum.runners.energy_detector import EnergyDetector, EnergyDetectorConfig
from mobeval.spectrum.task.items import Capture

NAME = "energy-detector"


@dataclass(frozen=True)
class IqInput:
    """The energy detector's input: the samples it reads and their rate."""

    iq: np.ndarray
    sample_rate_hz: float


class EnergyDetectorRunner:
    training = None  # nothing is learnt: no capture is off limits

    def __init__(self, model: SegmenterModel):
        try:
            self.config = EnergyDetectorConfig(**model.parameters.get("config", {}))
        except (TypeError, DataError) as exc:
            raise RunnerError(f"energy detector parameters {model.parameters}: {exc}") from exc
        self.detector = EnergyDetector(self.config)
        self.samples_read = self.config.samples  # the detector reads the first `samples` of a capture
        c = self.config
        self.info = SegmenterInfo(
            name=NAME, backend_version=f"numpy {np.__version__}, scipy {scipy.__version__}", model_file="",
            settings=asdict(c),
            notes=[(f"Welch PSD ({c.segment}-sample Hann segments, 50% overlap) of the first {c.samples} samples, "
                   f"smoothed over {c.smooth_bins} bins; noise floor by FCME; threshold {c.threshold_factor:.3f} x "
                   f"the floor (chi-square, {c.degrees_of_freedom:.0f} degrees of freedom, false alarm "
                   f"{c.false_alarm_per_bin:g} per bin); no training")],
        )

    @classmethod
    def builtin_model(cls) -> SegmenterModel:
        detector = EnergyDetector()
        return SegmenterModel(
            alias=NAME, name="energy detector (Welch PSD, FCME noise floor, chi-square threshold)",
            origin="mobeval.spectrum.runners.energy_detector", format="no model file",
            parameters={"config": asdict(detector.config), "threshold_factor": detector.config.threshold_factor,
                        "degrees_of_freedom": detector.config.degrees_of_freedom},
        )

    def prepare(self, capture: Capture) -> IqInput:
        if capture.num_samples < self.config.samples:
            raise DataError(f"the energy detector reads {self.config.samples} samples; the capture has "
                            f"{capture.num_samples}")
        return IqInput(capture.iq[: self.config.samples], capture.sample_rate_hz)

    def segment(self, prepared: IqInput) -> np.ndarray:
        return self.detector.detect_iq(prepared.iq, prepared.sample_rate_hz).scores

    def close(self) -> None:
        pass
