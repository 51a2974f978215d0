"""The CMuSeNet authors' data layout (their MATLAB generator, UNL-CPN-Lab/CMuSeNet
CMuSeNet_Synthetic_IQ_Generator/datagen.m + datagenWideband.m, whose output is the IEEE DataPort set)
read by --bench spectrum-captures: `<root>/<snr>/<i>/data.dat` (interleaved little-endian float64 I/Q,
20 MS/s, 2 ms = 40,000 samples) and `<root>/<snr>/<i>/meta-data.json` (MATLAB's jsonencode of a struct
array: fc offset from the band centre, bw, mod, txPower, noisePower per signal; ONE signal is encoded
as an object, not an array). `write_authors_capture` below is a small stand-in for datagen.m."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from mobeval.cli import app
from mobeval.core.errors import DataError
from mobeval.spectrum.benchmarks import capture_io
from mobeval.spectrum.benchmarks.files import files_set
from mobeval.spectrum.benchmarks.generate import CaptureKey, generate_capture

FS = 20e6  # datagenWideband.m: WideBandBW
N = 40_000  # SamplingTime 2 ms at 20 MS/s
BWS = (1e5, 2e5, 5e5, 1e6, 2e6)  # NarrowBandBWs
MODS = ("QPSK", "BPSK", "8-PSK", "8-QAM", "16-QAM", "GMSK", "2-FSK")  # Modulations, as the generator spells them
MIN_GAP = 100e3


def _place(rng: np.random.Generator, bws: list[float]) -> list[int]:
    """datagenWideband.m's placement: integer offsets in [-10 MHz + bw/2, 10 MHz - bw/2], at least 100 kHz apart."""
    placed: list[tuple[int, float]] = []
    for bw in bws:
        while True:
            f = int(rng.integers(-FS / 2 + bw / 2, FS / 2 - bw / 2, endpoint=True))
            if all(abs(f - g) >= (bw + b) / 2 + MIN_GAP for g, b in placed):
                placed.append((f, bw))
                break
    return [f for f, _ in placed]


def write_authors_capture(root: Path, snr: int, index: int, n_signals: int, rng: np.random.Generator,
                          mods: tuple[str, ...] | None = None) -> Path:
    """One capture as datagen.m writes it, with band-limited noise standing in for each modulated signal:
    txPowers integers in 0..20 dB, noisePower = min(txPower) - snr, AWGN at that power."""
    bws = [float(b) for b in rng.choice(BWS, n_signals)]
    fcs = _place(rng, bws)
    tx = [int(p) for p in rng.integers(0, 20, n_signals, endpoint=True)]
    noise_db = min(tx) - snr
    mods = mods or tuple(str(m) for m in rng.choice(MODS, n_signals))
    f = np.fft.fftfreq(N, 1 / FS)
    x = np.zeros(N, dtype=complex)
    for fc, bw, p in zip(fcs, bws, tx):
        spec = (rng.standard_normal(N) + 1j * rng.standard_normal(N)) * (np.abs(f - fc) <= bw / 2)
        s = np.fft.ifft(spec)
        x += s * np.sqrt(10 ** (p / 10) / np.mean(np.abs(s) ** 2))
    x += (rng.standard_normal(N) + 1j * rng.standard_normal(N)) * np.sqrt(10 ** (noise_db / 10) / 2)
    folder = root / str(snr) / str(index)  # sprintf("%s/%d/%s", path, snr, name)
    folder.mkdir(parents=True)
    np.stack([x.real, x.imag], axis=1).astype("<f8").tofile(folder / "data.dat")  # fwrite(split, 'double')
    meta = [{"fc": fc, "bw": bw, "mod": m, "txPower": p, "noisePower": noise_db}
            for fc, bw, m, p in zip(fcs, bws, mods, tx)]
    # jsonencode: compact, whole numbers without a decimal point, a 1x1 struct as an object
    text = json.dumps(meta[0] if n_signals == 1 else meta, separators=(",", ":"))
    (folder / "meta-data.json").write_text(text.replace(".0,", ",").replace(".0}", "}"))
    return folder


@pytest.fixture(scope="module")
def authors_tree(tmp_path_factory) -> Path:
    """Two SNR levels, three captures each: one with a single signal (an object), the others several."""
    root = tmp_path_factory.mktemp("diff-snr-matlab-simulated-data")
    rng = np.random.default_rng(7)
    for snr in (-10, 10):
        for i, n in zip((1, 2, 3), (1, 3, 6)):
            write_authors_capture(root, snr, i, n, rng)
    return root


def test_the_writer_follows_datagen(authors_tree):
    one = json.loads((authors_tree / "10" / "1" / "meta-data.json").read_text())
    several = json.loads((authors_tree / "10" / "2" / "meta-data.json").read_text())
    assert isinstance(one, dict) and set(one) == {"fc", "bw", "mod", "txPower", "noisePower"}
    assert isinstance(several, list) and len(several) == 3
    assert (authors_tree / "10" / "2" / "data.dat").stat().st_size == N * 16


def test_the_whole_tree_is_read_with_the_snr_from_its_folder(authors_tree):
    ds = files_set(authors_tree)
    assert sorted(r.id for r in ds.refs) == ["-10/1", "-10/2", "-10/3", "10/1", "10/2", "10/3"]
    assert {r.id: r.snr_level_db for r in ds.refs} == {"-10/1": -10, "-10/2": -10, "-10/3": -10,
                                                       "10/1": 10, "10/2": 10, "10/3": 10}
    assert [r.n_signals for r in ds.refs if r.id.startswith("10/")] == [1, 3, 6]
    assert ds.description["formats"] == ["cmusenet"]
    for ref in ds.refs:
        assert ref.source["format"] == "cmusenet" and ref.source["snr_from"] == "folder"
        c = ds.capture(ref)
        folder = authors_tree / ref.id
        meta = json.loads((folder / "meta-data.json").read_text())
        meta = [meta] if isinstance(meta, dict) else meta
        assert c.sample_rate_hz == 20e6 and c.centre_freq_hz == 0 and c.num_samples == N
        assert c.band_hz == (-10e6, 10e6) and c.snr_level_db == ref.snr_level_db
        assert [(s.lower_edge_hz, s.upper_edge_hz) for s in c.signals] == [(m["fc"] - m["bw"] / 2, m["fc"] + m["bw"] / 2)
                                                                           for m in meta]
        assert [s.modulation for s in c.signals] == [m["mod"] for m in meta]
        assert [s.snr_db for s in c.signals] == [m["txPower"] - m["noisePower"] for m in meta]
        assert min(s.snr_db for s in c.signals) == ref.snr_level_db  # what datagen's awgn() sets
        assert c.noise_power == pytest.approx(10 ** (meta[0]["noisePower"] / 10))
        raw = np.fromfile(folder / "data.dat", dtype="<f8")
        assert np.array_equal(c.iq, (raw[0::2] + 1j * raw[1::2]).astype(np.complex64))


def test_every_modulation_name_is_a_label_and_unknown_ones_are_kept(tmp_path):
    rng = np.random.default_rng(1)
    write_authors_capture(tmp_path, 4, 1, len(MODS), rng, mods=MODS)
    write_authors_capture(tmp_path, 4, 2, 1, rng, mods=("OOK-custom",))
    ds = files_set(tmp_path)
    assert sorted(s.modulation for s in ds.capture(ds.refs[0]).signals) == sorted(MODS)
    assert [s.modulation for s in ds.capture(ds.refs[1]).signals] == ["OOK-custom"]


@pytest.mark.parametrize("below", ["10/1", "10"])
def test_one_capture_folder_or_one_snr_folder_as_data(authors_tree, below):
    ds = files_set(authors_tree / below)
    assert {r.snr_level_db for r in ds.refs} == {10.0}
    assert len(ds.refs) == (1 if below == "10/1" else 3)
    c = ds.capture(ds.refs[0])
    assert c.snr_level_db == 10 and len(c.signals) == 1 and c.id == "10/1"
    assert capture_io.read_paper_capture(authors_tree / "10" / "2").id == "10/2"
    assert len(capture_io.read_cmusenet_capture(authors_tree / "10" / "3").signals) == 6


def test_without_an_snr_folder_the_level_is_the_weakest_signals_snr(tmp_path):
    folder = write_authors_capture(tmp_path, 6, 1, 4, np.random.default_rng(2))
    moved = tmp_path / "copied-capture"
    folder.rename(moved)
    ds = files_set(moved)
    assert ds.refs[0].snr_level_db == 6.0 and ds.refs[0].source["snr_from"] == "metadata"
    assert ds.capture(ds.refs[0]).snr_level_db == 6.0


def test_all_three_layouts_are_found_at_any_depth(tmp_path):
    write_authors_capture(tmp_path / "authors", -4, 1, 2, np.random.default_rng(3))
    c = generate_capture(CaptureKey(5, "test", 2, 0))
    capture_io.write_paper_capture(c, tmp_path / "ours" / "deeper" / "cap")
    capture_io.write_sigmf(c, tmp_path / "ours" / "rec")
    ds = files_set(tmp_path)
    assert [(r.id, r.source["format"]) for r in ds.refs] == [
        ("authors/-4/1", "cmusenet"), ("ours/deeper/cap", "paper"), ("ours/rec", "sigmf")]
    assert ds.description["formats"] == ["cmusenet", "paper", "sigmf"]
    assert [ds.capture(r).snr_level_db for r in ds.refs] == [-4.0, 2.0, 2.0]


def _edited(root: Path, edit) -> Path:
    folder = write_authors_capture(root, 0, 1, 3, np.random.default_rng(4))
    meta_path = folder / "meta-data.json"
    meta = json.loads(meta_path.read_text())
    edit(meta)
    meta_path.write_text(json.dumps(meta) if not isinstance(meta, str) else meta)
    return meta_path


@pytest.mark.parametrize("edit, words", [
    (lambda m: m[1].pop("fc"), "[1]: missing key 'fc'"),
    (lambda m: m[0].update(bw=None), "[0]: bw is null"),
    (lambda m: m[0].update(bw=-1e5), "[0]: bw is -100000.0; it must be positive"),
    (lambda m: m[2].update(mod=7), "[2]: mod is 7, not a name"),
    (lambda m: m[0].update(txPower="high"), "[0]: txPower is \"high\", not a number"),
    (lambda m: m[1].update(noisePower=m[1]["noisePower"] + 3), "[1]: noisePower is"),
    (lambda m: m[0].update(fc=9.99e6), "outside the captured band"),
    (lambda m: m.__setitem__(1, 5), "element 1 is 5, not a JSON object"),
])
def test_defects_in_the_authors_metadata_name_the_file_and_field(tmp_path, edit, words):
    meta_path = _edited(tmp_path, edit)
    with pytest.raises(DataError) as e:
        files_set(tmp_path)  # the index reads (and checks) the authors' metadata
    assert str(e.value).startswith(f"{meta_path}: ") and words in str(e.value)


def test_a_run_over_the_authors_tree_gives_figures_per_snr(authors_tree, tmp_path):
    res = CliRunner().invoke(app, ["run", "--bench", "spectrum-captures", "--data", str(authors_tree),
                                   "--runner", "energy-detector", "--output-dir", str(tmp_path)],
                             env={"COLUMNS": "200"})
    assert res.exit_code == 0, res.output + repr(res.exception)
    assert "Traceback" not in res.output and "Per SNR level" in res.output
    (folder,) = [p for p in tmp_path.iterdir() if p.is_dir()]
    r = json.loads((folder / "result.json").read_text())
    assert r["status"] == "complete" and r["data"]["formats"] == ["cmusenet"] and r["data"]["n_items_total"] == 6
    per_snr = r["task"]["per_snr"]
    assert list(per_snr) == ["-10", "10"]
    assert [per_snr[g]["n_captures"] for g in per_snr] == [3, 3]
    assert [per_snr[g]["n_signals"] for g in per_snr] == [10, 10]
    high = per_snr["10"]["figures"]
    assert high["bin_recall"]["value"] > 0.8 and high["recall_at_iou_0.5"]["value"] > 0.5
    for g in per_snr.values():
        assert {"bin_f1", "mean_iou", "recall_at_iou_0.5"} <= set(g["figures"])
    ids = {json.loads(x)["capture_id"] for x in (folder / "samples.jsonl").read_text().splitlines()}
    assert ids == {"-10/1", "-10/2", "-10/3", "10/1", "10/2", "10/3"}
