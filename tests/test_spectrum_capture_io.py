"""Capture files: the paper's data.dat + meta-data.json and SigMF; every defect is a DataError naming the file."""

import json
import re

import numpy as np
import pytest

from mobeval.spectrum.benchmarks.capture_io import (
    read_dataset,
    read_paper_capture,
    read_sigmf,
    write_dataset,
    write_paper_capture,
    write_sigmf,
)
from mobeval.spectrum.benchmarks.generate import CaptureKey, generate_capture
from mobeval.core.errors import DataError


@pytest.fixture(scope="module")
def capture():
    return generate_capture(CaptureKey(21, "test", 2, 0))


def same(a, b):
    assert a.id == b.id and a.signals == b.signals and a.sample_rate_hz == b.sample_rate_hz
    assert a.centre_freq_hz == b.centre_freq_hz and a.noise_power == b.noise_power and a.snr_level_db == b.snr_level_db
    assert np.array_equal(a.iq, b.iq)
    assert a.source["seed"] == b.source["seed"] and a.source["split"] == b.source["split"]


def test_paper_layout_round_trip(capture, tmp_path):
    folder = write_paper_capture(capture, tmp_path / "cap")
    raw = np.fromfile(folder / "data.dat", dtype="<f8")
    assert raw.size == 2 * 40_000 and raw[0] == capture.iq[0].real and raw[1] == capture.iq[0].imag
    meta = json.loads((folder / "meta-data.json").read_text())
    assert meta["num_samples"] == 40_000 and {"center_frequency", "bandwidth", "modulation", "power_db"} <= set(meta["signals"][0])
    back = read_paper_capture(folder)
    same(capture, back)
    assert back.source["file"] == str(folder)


def test_sigmf_round_trip(capture, tmp_path):
    meta_path = write_sigmf(capture, tmp_path / "rec")
    assert meta_path.name == "rec.sigmf-meta" and (tmp_path / "rec.sigmf-data").stat().st_size == 8 * 40_000
    meta = json.loads(meta_path.read_text())
    ann = meta["annotations"][0]
    assert meta["global"]["core:datatype"] == "cf32_le" and meta["captures"][0]["core:frequency"] == 0.0
    assert ann["core:freq_lower_edge"] == capture.signals[0].lower_edge_hz
    assert ann["core:freq_upper_edge"] == capture.signals[0].upper_edge_hz
    same(capture, read_sigmf(tmp_path / "rec"))
    same(capture, read_sigmf(meta_path))


def test_sigmf_ci16_is_read(capture, tmp_path):
    meta_path = write_sigmf(capture, tmp_path / "rec")
    meta = json.loads(meta_path.read_text())
    iq = capture.iq[:1000]
    scale = 0.5 / np.abs(iq).max()
    pairs = np.round(np.stack([iq.real, iq.imag], 1) * scale * 32768).astype("<i2")
    (tmp_path / "rec.sigmf-data").write_bytes(pairs.tobytes())
    meta["global"] |= {"core:datatype": "ci16_le", "mobeval:num_samples": 1000}
    del meta["global"]["core:sha512"]
    meta["annotations"] = []
    meta_path.write_text(json.dumps(meta))
    back = read_sigmf(meta_path)
    assert np.allclose(back.iq, iq * scale, atol=1 / 32768)


def file_error(path):
    return pytest.raises(DataError, match=re.escape(str(path)))


def test_paper_truncated_file(capture, tmp_path):
    folder = write_paper_capture(capture, tmp_path / "cap")
    data = folder / "data.dat"
    data.write_bytes(data.read_bytes()[:-3])
    with file_error(data):
        read_paper_capture(folder)


def test_paper_wrong_sample_count(capture, tmp_path):
    folder = write_paper_capture(capture, tmp_path / "cap")
    data = folder / "data.dat"
    data.write_bytes(data.read_bytes()[:-16])  # a whole sample short: not truncated mid-sample
    with file_error(data) as e:
        read_paper_capture(folder)
    assert "39999" in str(e.value) and "40000" in str(e.value)


def test_paper_nan(capture, tmp_path):
    folder = write_paper_capture(capture, tmp_path / "cap")
    raw = np.fromfile(folder / "data.dat", dtype="<f8")
    raw[1001] = np.nan
    raw.tofile(folder / "data.dat")
    with file_error(folder / "data.dat") as e:
        read_paper_capture(folder)
    assert "sample 500" in str(e.value)


@pytest.mark.parametrize(
    "edit, words",
    [
        (lambda m: m["signals"][0].update(center_frequency=9.99e6), "outside the captured band"),
        (lambda m: m["signals"][1].update(center_frequency=m["signals"][0]["center_frequency"]), "overlap"),
        (lambda m: m["signals"][0].update(bandwidth=-1e5), "upper edge"),
        (lambda m: m["signals"][0].pop("modulation"), "modulation"),
        (lambda m: m.pop("sample_rate"), "sample_rate"),
    ],
)
def test_paper_metadata_that_disagrees_with_the_data(capture, tmp_path, edit, words):
    assert len(capture.signals) >= 2
    folder = write_paper_capture(capture, tmp_path / "cap")
    meta_path = folder / "meta-data.json"
    meta = json.loads(meta_path.read_text())
    edit(meta)
    meta_path.write_text(json.dumps(meta))
    with file_error(meta_path) as e:
        read_paper_capture(folder)
    assert words in str(e.value)


def test_paper_missing_or_bad_files(capture, tmp_path):
    with file_error(tmp_path / "nothing" / "meta-data.json"):
        read_paper_capture(tmp_path / "nothing")
    folder = write_paper_capture(capture, tmp_path / "cap")
    (folder / "meta-data.json").write_text("{not json")
    with file_error(folder / "meta-data.json"):
        read_paper_capture(folder)


def test_sigmf_defects(capture, tmp_path):
    meta_path = write_sigmf(capture, tmp_path / "rec")
    data_path = tmp_path / "rec.sigmf-data"
    good = data_path.read_bytes()
    data_path.write_bytes(good[:-5])
    with file_error(data_path):
        read_sigmf(meta_path)
    data_path.write_bytes(good[:-8])
    with file_error(data_path):  # whole samples, but the checksum no longer matches
        read_sigmf(meta_path)
    meta = json.loads(meta_path.read_text())
    del meta["global"]["core:sha512"]
    meta_path.write_text(json.dumps(meta))
    with file_error(data_path) as e:  # without the checksum, the sample count catches it
        read_sigmf(meta_path)
    assert "39999" in str(e.value)
    bad = np.frombuffer(good, dtype="<c8").copy()
    bad[7] = np.inf
    data_path.write_bytes(bad.tobytes())
    with file_error(data_path):
        read_sigmf(meta_path)
    data_path.write_bytes(good)
    meta["annotations"][0]["core:freq_upper_edge"] = 10.5e6
    meta_path.write_text(json.dumps(meta))
    with file_error(meta_path):
        read_sigmf(meta_path)
    meta["annotations"][0]["core:freq_upper_edge"] = capture.signals[0].upper_edge_hz
    meta["global"]["core:datatype"] = "rf32_le"
    meta_path.write_text(json.dumps(meta))
    with file_error(meta_path):
        read_sigmf(meta_path)


def test_dataset_round_trip_and_missing_capture(tmp_path):
    caps = [generate_capture(CaptureKey(4, "test", lv, 0)) for lv in (-20, 10)]
    caps.append(generate_capture(CaptureKey(4, "test", None, 0)))
    for fmt in ("paper", "sigmf"):
        folder = tmp_path / fmt
        write_dataset(caps, folder, fmt, description={"seed": 4})
        back = read_dataset(folder)
        for a, b in zip(caps, back):
            same(a, b)
        assert back[-1].is_empty and back[-1].snr_level_db is None
    import shutil

    shutil.rmtree(tmp_path / "paper" / caps[0].id)
    with file_error(tmp_path / "paper" / caps[0].id):
        read_dataset(tmp_path / "paper")
    with pytest.raises(DataError):
        write_dataset(caps, tmp_path / "x", "hdf5")
