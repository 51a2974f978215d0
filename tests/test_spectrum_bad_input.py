"""Issue 30 (red team), spectrum: bad input is an error naming the file, field or flag, never a traceback,
and what is valid input gives a correct result: capture metadata of the wrong type or not finite; the
flags of `mobeval gen spectrum` and `mobeval train spectrum`; a long SigMF recording read only as far as
the runner reads; an all-zero capture through the energy detector; one error message printing its path twice."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from mobeval.cli import app
from mobeval.core.errors import DataError
from mobeval.spectrum.benchmarks import capture_io
from mobeval.spectrum.benchmarks.files import files_set
from mobeval.spectrum.benchmarks.generate import CaptureKey, Recipe, SplitSpec, generate_capture
from mobeval.spectrum.runners.energy_detector import EnergyDetector
from mobeval.spectrum.task.items import Capture
from mobeval.spectrum.task.metrics import score_capture

cli = CliRunner()


@pytest.fixture(scope="module")
def capture() -> Capture:
    return generate_capture(CaptureKey(21, "test", 2, 0))


def invoke(*args: str):
    return cli.invoke(app, [str(a) for a in args], env={"COLUMNS": "200"})


def refused(*args: str) -> str:
    """The command fails with a message (exit 1 or 2), no traceback, nothing raised past the CLI."""
    res = invoke(*args)
    assert res.exit_code in (1, 2), res.output + repr(res.exception)
    assert "Traceback" not in res.output and isinstance(res.exception, SystemExit), repr(res.exception)
    return " ".join(res.output.split())


# --- 2. metadata values of the wrong type or not finite ---------------------------------------------


def _paper(capture, tmp_path, edit) -> Path:
    folder = capture_io.write_paper_capture(capture, tmp_path / "cap")
    meta_path = folder / "meta-data.json"
    meta = json.loads(meta_path.read_text())
    edit(meta)
    meta_path.write_text(json.dumps(meta))  # json writes NaN and Infinity as such; Python's reader takes them
    return meta_path


def _sigmf(capture, tmp_path, edit) -> Path:
    meta_path = capture_io.write_sigmf(capture, tmp_path / "rec")
    meta = json.loads(meta_path.read_text())
    edit(meta)
    meta_path.write_text(json.dumps(meta))
    return meta_path


@pytest.mark.parametrize("edit, field", [
    (lambda m: m.update(center_frequency=float("nan")), "center_frequency is nan, not a finite number"),
    (lambda m: m.update(center_frequency=float("inf")), "center_frequency is inf, not a finite number"),
    (lambda m: m.update(sample_rate="fast"), 'sample_rate is "fast", not a number'),
    (lambda m: m.update(sample_rate=True), "sample_rate is true, not a number"),
    (lambda m: m.update(sample_rate=0), "sample_rate is 0; it must be positive"),
    (lambda m: m.update(signals=[1]), "signals[0] is 1, not a JSON object"),
    (lambda m: m.update(signals="QPSK"), 'signals is "QPSK", not a JSON array'),
    (lambda m: m.update(num_samples="40000"), 'num_samples is "40000", not a whole number >= 0'),
    (lambda m: m.update(num_samples=4e4 + 0.5), "num_samples is 40000.5, not a whole number >= 0"),
    (lambda m: m.update(noise_power=float("nan")), "noise_power is nan, not a finite number (write null"),
    (lambda m: m.update(snr_db=float("nan")), "snr_db is nan, not a finite number"),
    (lambda m: m["signals"][1].update(bandwidth=float("-inf")), "signals[1]: bandwidth is -inf, not a finite number"),
    (lambda m: m["signals"][0].update(modulation=["QPSK"]), 'signals[0]: modulation is ["QPSK"], not a name'),
    (lambda m: m["signals"][0].update(power_db="3 dB"), 'signals[0]: power_db is "3 dB", not a number'),
])
def test_paper_metadata_of_the_wrong_type_or_not_finite(capture, tmp_path, edit, field):
    meta_path = _paper(capture, tmp_path, edit)
    with pytest.raises(DataError) as e:
        capture_io.read_paper_capture(meta_path.parent)
    assert str(e.value) == f"{meta_path}: {field}" or str(e.value).startswith(f"{meta_path}: {field}")


@pytest.mark.parametrize("edit, field", [
    (lambda m: m["annotations"][0].update({"core:sample_count": "x"}), 'annotations[0]: core:sample_count is "x"'),
    (lambda m: m["annotations"][0].update({"core:sample_start": -5}), "annotations[0]: core:sample_start is -5"),
    (lambda m: m["annotations"][0].update({"core:freq_lower_edge": "1e6"}), 'core:freq_lower_edge is "1e6", not a number'),
    (lambda m: m["annotations"][1].update({"core:label": 4}), "annotations[1]: core:label is 4, not a name"),
    (lambda m: m["annotations"].__setitem__(0, None), "annotations[0] is null, not a JSON object"),
    (lambda m: m["global"].update({"core:sample_rate": float("inf")}), "global: core:sample_rate is inf"),
    (lambda m: m["global"].update({"mobeval:num_samples": "many"}), 'global: mobeval:num_samples is "many"'),
    (lambda m: m["global"].update({"mobeval:noise_power": float("nan")}), "global: mobeval:noise_power is nan"),
    (lambda m: m["global"].update({"core:sha512": 12}), "global: core:sha512 is 12, not a hex string"),
    (lambda m: m["captures"][0].update({"core:frequency": float("nan")}), "captures[0]: core:frequency is nan"),
    (lambda m: m.update(captures={"core:frequency": 0}), "captures is {\"core:frequency\": 0}, not a JSON array"),
    (lambda m: m.update({"global": []}), "global is [], not a JSON object"),
])
def test_sigmf_metadata_of_the_wrong_type_or_not_finite(capture, tmp_path, edit, field):
    meta_path = _sigmf(capture, tmp_path, edit)
    with pytest.raises(DataError) as e:
        capture_io.read_sigmf(meta_path)
    assert str(e.value).startswith(f"{meta_path}: ") and field in str(e.value)


def test_unknown_powers_are_null_and_read_back_as_nan(capture, tmp_path):
    """mobeval's own files of a capture whose powers are not known (NaN) hold null, and read back."""
    unknown = Capture("rec", capture.iq, capture.sample_rate_hz, capture.centre_freq_hz,
                      [type(s)(s.lower_edge_hz, s.upper_edge_hz, s.modulation, np.nan, np.nan) for s in capture.signals],
                      np.nan, capture.snr_level_db)
    folder = capture_io.write_paper_capture(unknown, tmp_path / "cap")
    meta_path = capture_io.write_sigmf(unknown, tmp_path / "rec")
    assert "NaN" not in (folder / "meta-data.json").read_text() and "NaN" not in meta_path.read_text()
    for back in (capture_io.read_paper_capture(folder), capture_io.read_sigmf(meta_path)):
        assert np.isnan(back.noise_power) and all(np.isnan(s.power_db) and np.isnan(s.snr_db) for s in back.signals)
        assert [s.lower_edge_hz for s in back.signals] == [s.lower_edge_hz for s in capture.signals]


def test_a_nan_snr_level_in_the_index_names_the_file(capture, tmp_path):
    meta_path = _paper(capture, tmp_path, lambda m: m.update(snr_db=float("nan")))
    with pytest.raises(DataError, match=f"{meta_path}: snr_db nan is not a number"):
        files_set(tmp_path)


def test_a_run_on_a_nan_centre_frequency_is_an_error_naming_file_and_field(capture, tmp_path):
    meta_path = _paper(capture, tmp_path / "data", lambda m: m.update(center_frequency=float("nan")))
    out = refused("run", "--bench", "spectrum-captures", "--runner", "energy-detector", "--data", tmp_path / "data",
                  "--output-dir", tmp_path / "out")
    assert f"{meta_path}: center_frequency is nan, not a finite number" in out


# --- 3. the gen and train commands' flags -----------------------------------------------------------


@pytest.mark.parametrize("flags, says", [
    (["--fading", "rician", "--rician-k-db", "nan"], "--rician-k-db nan: the K-factor must be a finite number of dB"),
    (["--fading", "rician", "--rician-k-db", "inf"], "--rician-k-db inf: the K-factor must be a finite number of dB"),
    (["--rician-k-db", "3"], "--rician-k-db 3: the K-factor applies only with --fading rician (--fading is none)"),
    (["--fading", "rayleigh", "--rician-k-db", "6"], "--rician-k-db 6: the K-factor applies only with --fading rician"),
    (["--fading", "nakagami"], "--fading nakagami: one of none, rayleigh, rician"),
    (["--snr", "0,0"], "--snr 0,0: level 0 is given twice"),
    (["--snr", "-4,2,-4,2"], "--snr -4,2,-4,2: level -4, 2 is given twice"),
    (["--snr", ","], "--snr ',': no level given"),
    (["--snr", "400"], "--snr 400: level 400 dB is outside (-100, 100)"),
    (["--captures", "0"], "--captures 0 and --empty 0: no captures to write"),
])
def test_gen_refuses_flags_that_would_write_nonsense(tmp_path, flags, says):
    out = refused("gen", "spectrum", "--out", tmp_path / "d", "--captures", "1", "--snr", "0", *flags)
    assert says in out
    assert not (tmp_path / "d").exists()  # nothing written


def test_gen_out_naming_a_file(tmp_path):
    (tmp_path / "f").write_text("x")
    assert f"--out {tmp_path / 'f'}: is a file, not a folder" in refused("gen", "spectrum", "--out", tmp_path / "f")
    assert f"--out {tmp_path / 'f' / 'sub'}: {tmp_path / 'f'} is a file, not a folder" in refused(
        "gen", "spectrum", "--out", tmp_path / "f" / "sub")


def test_gen_k_factor_given_with_rician_is_used_and_recorded(tmp_path):
    res = invoke("gen", "spectrum", "--out", tmp_path / "d", "--captures", "1", "--snr", "0", "--fading", "rician",
                 "--rician-k-db", "3")
    assert res.exit_code == 0, res.output
    manifest = json.loads((tmp_path / "d" / "spectrum-dataset.json").read_text())
    assert manifest["description"]["generator"]["recipe"]["rician_k_db"] == 3
    assert manifest["description"]["command"].endswith("--fading rician --rician-k-db 3")
    (cap,) = capture_io.read_dataset(tmp_path / "d")
    assert np.isfinite(cap.iq).all()
    res = invoke("gen", "spectrum", "--out", tmp_path / "e", "--captures", "0", "--empty", "1", "--fading", "rician")
    assert res.exit_code == 0, res.output  # only empty captures is a dataset; the K-factor's default is 6
    manifest = json.loads((tmp_path / "e" / "spectrum-dataset.json").read_text())
    assert manifest["description"]["generator"]["recipe"]["rician_k_db"] == 6
    assert manifest["description"]["command"].endswith("--fading rician --rician-k-db 6")


def test_the_library_refuses_a_nan_k_factor_and_repeated_levels():
    with pytest.raises(DataError, match="rician_k_db nan"):
        Recipe(fading="rician", rician_k_db=float("nan"))
    with pytest.raises(DataError, match="SNR level.s. 0 dB listed twice"):
        SplitSpec(seed=1, split="test", per_level=1, levels_db=(0, 0))


@pytest.mark.parametrize("flags, says", [
    (["--out", "{f}"], "--out {f}: is a file, not a folder"),
    (["--out", "{f}/sub"], "--out {f}/sub: {f} is a file, not a folder"),
    (["--out", "{d}", "--fading", "rician", "--rician-k-db", "nan"], "--rician-k-db nan: the K-factor must be a finite"),
    (["--out", "{d}", "--rician-k-db", "2"], "--rician-k-db 2: the K-factor applies only with --fading rician"),
    (["--out", "{d}", "--snr", "0,0"], "--snr 0,0: level 0 is given twice"),
])
def test_train_refuses_before_it_trains(tmp_path, flags, says):
    f, d = tmp_path / "f", tmp_path / "d"
    f.write_text("x")
    flags = [x.format(f=f, d=d) for x in flags]
    out = refused("train", "spectrum", "--epochs", "1", "--train-per-level", "1", "--train-empty", "0",
                  "--val-per-level", "1", "--val-empty", "0", "--snr", "0", *flags)
    assert says.format(f=f, d=d) in out
    assert not d.exists() and f.read_text() == "x"


# --- 4. a long recording is read only as far as the runner reads -------------------------------------

_PEAK = """
import json, resource, sys
from pathlib import Path
import psutil
import numpy as np
from mobeval.spectrum.benchmarks import capture_io
from mobeval.spectrum.benchmarks.files import files_set
from mobeval.spectrum.runners.energy_runner import EnergyDetectorRunner
from mobeval.spectrum.task.plan import samples_read

small, big = Path(sys.argv[1]), Path(sys.argv[2])
runner = EnergyDetectorRunner(EnergyDetectorRunner.builtin_model())
runner.segment(runner.prepare(capture_io.read_sigmf(small)))  # warm: imports, FFT plans, first allocations
proc = psutil.Process()
rss0, peak0 = proc.memory_info().rss, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
c = capture_io.read_sigmf(big, samples=samples_read(runner))  # SHA-512 checked over the whole file, in blocks
ds = files_set(big.parent)
c2 = ds.capture(ds.refs[0], samples_read(runner))  # what a run does
scores = runner.segment(runner.prepare(c2))
print(json.dumps({"rss_growth": proc.memory_info().rss - rss0,
                  "peak_growth": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 - peak0,
                  "n": [c.num_samples, c2.num_samples], "finite": bool(np.isfinite(scores).all())}))
"""


@pytest.mark.skipif(sys.platform != "linux", reason="sparse files and ru_maxrss in bytes/1024 as on Linux")
def test_a_256_mib_sigmf_recording_is_read_only_as_far_as_used(capture, tmp_path):
    size = 256 << 20
    small = capture_io.write_sigmf(capture, tmp_path / "small" / "rec")
    big_meta = capture_io.write_sigmf(capture, tmp_path / "big" / "rec")
    data = tmp_path / "big" / "rec.sigmf-data"
    with data.open("r+b") as f:  # the capture's samples, then zeros to 256 MiB: a sparse file, no disk used
        f.truncate(size)
    import hashlib

    digest = hashlib.sha512()
    with data.open("rb") as f:
        for block in iter(lambda: f.read(1 << 22), b""):
            digest.update(block)
    meta = json.loads(big_meta.read_text())
    meta["global"]["core:sha512"] = digest.hexdigest()
    meta["global"]["mobeval:num_samples"] = size // 8
    big_meta.write_text(json.dumps(meta))
    res = subprocess.run([sys.executable, "-c", textwrap.dedent(_PEAK), str(small), str(big_meta)],
                         capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    got = json.loads(res.stdout.strip().splitlines()[-1])
    assert got["peak_growth"] < size / 16, got  # was ~900 MB: read whole, hashed from a copy, copied twice
    assert got["rss_growth"] < size / 16, got
    assert got["n"] == [16_384, 16_384] and got["finite"]


def test_a_whole_capture_is_read_when_no_count_is_given_and_the_count_checks_the_whole_file(capture, tmp_path):
    meta_path = capture_io.write_sigmf(capture, tmp_path / "rec")
    assert capture_io.read_sigmf(meta_path).num_samples == 40_000
    assert capture_io.read_sigmf(meta_path, samples=100).num_samples == 100
    data = tmp_path / "rec.sigmf-data"
    data.write_bytes(data.read_bytes()[:-8])
    with pytest.raises(DataError, match="SHA-512 does not match"):  # the end of the file is checked too
        capture_io.read_sigmf(meta_path, samples=100)
    folder = capture_io.write_paper_capture(capture, tmp_path / "cap")
    with (folder / "data.dat").open("r+b") as f:
        f.truncate(39_999 * 16)
    with pytest.raises(DataError, match="holds 39999 samples but its metadata says 40000"):
        capture_io.read_paper_capture(folder, samples=100)


# --- 5. an all-zero capture ---------------------------------------------------------------------------


def test_the_energy_detector_reports_no_occupancy_on_an_all_zero_capture(capture):
    zero = Capture("zero", np.zeros(40_000, np.complex64), 20e6, 0.0, (), 0.0, None)
    det = EnergyDetector().detect(zero)
    assert np.isfinite(det.scores).all() and (det.scores == 0).all() and det.noise_floor == 0
    s = score_capture(zero, det.scores)
    assert s.fp == 0 and s.predicted_bins == 0
    silent_with_signals = Capture("z2", np.zeros(40_000, np.complex64), 20e6, 0.0, capture.signals, 1.0, 2.0)
    s = score_capture(silent_with_signals, EnergyDetector().scores(silent_with_signals))
    assert s.tp == 0 and s.fn > 0 and s.signal_ious == (0.0,) * len(capture.signals)


def test_a_run_over_an_all_zero_capture_file_completes(capture, tmp_path):
    zero = Capture("zero", np.zeros(40_000, np.complex64), 20e6, 0.0, (), 0.0, None)
    capture_io.write_sigmf(zero, tmp_path / "data" / "zero")
    capture_io.write_sigmf(capture, tmp_path / "data" / "real")
    res = invoke("run", "--bench", "spectrum-captures", "--runner", "energy-detector", "--data", tmp_path / "data",
                 "--output-dir", tmp_path / "out")
    assert res.exit_code == 0, res.output + repr(res.exception)
    (folder,) = (tmp_path / "out").iterdir()
    task = json.loads((folder / "result.json").read_text())["task"]
    assert task["per_snr"]["empty"]["figures"]["false_alarm_rate"]["value"] == 0.0
    recs = {json.loads(x)["capture_id"]: json.loads(x) for x in (folder / "samples.jsonl").read_text().splitlines()}
    assert recs["zero"]["predicted_runs"] == [] and recs["zero"]["fp"] == 0


# --- 6. a path printed once -----------------------------------------------------------------------------


@pytest.mark.parametrize("layout, edit, says", [
    ("sigmf", lambda m: m["annotations"][0].pop("core:freq_lower_edge"), "annotations[0]: missing key 'core:freq_lower_edge'"),
    ("sigmf", lambda m: m["annotations"][0].update({"core:freq_upper_edge": -9e6}), "annotations[0]: signal "),
    ("paper", lambda m: m["signals"][1].pop("modulation"), "signals[1]: missing key 'modulation'"),
    ("paper", lambda m: m["signals"][0].update(bandwidth=-1e5), "signals[0]: signal "),
])
def test_an_error_names_the_metadata_file_once(capture, tmp_path, layout, edit, says):
    meta_path = (_sigmf if layout == "sigmf" else _paper)(capture, tmp_path, edit)
    with pytest.raises(DataError) as e:
        capture_io.read_sigmf(meta_path) if layout == "sigmf" else capture_io.read_paper_capture(meta_path.parent)
    message = str(e.value)
    assert message.startswith(f"{meta_path}: {says}") and message.count(str(meta_path)) == 1, message
    assert message.count(says.split(":")[0] + ":") == 1, message
