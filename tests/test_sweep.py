"""mobeval sweep: the F16 GGUF written from the bundled Q4_1 model, a real 4-level sweep on the bundled model
read back by `mobeval compare`, refusals, and the Pareto front on a hand-made case."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from mobeval.board.figures import proportion
from mobeval.cli import app
from mobeval.core.errors import MobevalError
from mobeval.text.samples import Sample
from mobeval.sweep import parse_levels
from mobeval.sweep.table import SweepRow, mark_pareto, vs_reference

gguf = pytest.importorskip("gguf")
cli = CliRunner()
LEVELS = "Q2_K,Q8_0,F16,Q4_1"  # given out of order: the sweep orders them by precision


@pytest.fixture(scope="module")
def f16_path(smollm2_path) -> Path:
    """The F16 written from the bundled model, in the session's cache (the sweep below reuses it)."""
    from mobeval.text.models import spec_for
    from mobeval.sweep.files import LevelFiles

    return LevelFiles(spec_for("smollm2-135m"), smollm2_path).base()


def _logits(path: Path, prompt: bytes) -> np.ndarray:
    from mobeval.text.runners.llamacpp_params import open_guarded

    m = open_guarded(path, n_threads=2, n_ctx=128, logits_all=True)
    try:
        toks = m.tokenize(prompt)
        m.eval(toks)
        return np.array(m.scores[len(toks) - 1])
    finally:
        m.close()


def test_f16_from_q4_1_keeps_metadata_and_dequantized_weights(f16_path, smollm2_path):
    from mobeval.sweep.f16 import dequantized

    src, out = gguf.GGUFReader(str(smollm2_path)), gguf.GGUFReader(str(f16_path))
    assert int(out.fields["general.file_type"].contents()) == int(gguf.LlamaFileType.MOSTLY_F16)
    for key in ("general.architecture", "tokenizer.ggml.tokens", "tokenizer.ggml.merges", "tokenizer.chat_template",
                "llama.rope.freq_base", "tokenizer.ggml.eos_token_id"):
        assert out.fields[key].contents() == src.fields[key].contents(), key
    assert set(src.fields) - {"GGUF.kv_count"} <= set(out.fields)
    src_t = {t.name: t for t in src.tensors}
    out_t = {t.name: t for t in out.tensors}
    assert src_t.keys() == out_t.keys()
    # a Q4_1 tensor, the Q8_0 token embedding, an F32 norm: equal to the source's dequantization (F16-rounded)
    for name in ("blk.0.attn_q.weight", "token_embd.weight", "blk.3.ffn_norm.weight"):
        want = dequantized(src_t[name])
        got = np.asarray(out_t[name].data)
        if want.ndim >= 2:
            assert out_t[name].tensor_type == gguf.GGMLQuantizationType.F16
            want = want.astype(np.float16)
        assert got.shape == want.shape, name
        assert np.array_equal(got, want), name


def test_f16_loads_in_llama_cpp_and_predicts_as_the_source(f16_path, smollm2_path):
    prompt = b"The capital of France is"
    a, b = _logits(smollm2_path, prompt), _logits(f16_path, prompt)
    assert np.argmax(a) == np.argmax(b)
    # the Q4_1 kernels round activations to 8 bits, so logits differ a little; a scrambled tensor would not correlate
    assert np.corrcoef(a, b)[0, 1] > 0.99


@pytest.fixture(scope="module")
def sweep_folder(tmp_path_factory, f16_path) -> tuple[Path, str]:
    folder = tmp_path_factory.mktemp("sweep") / "s"
    res = cli.invoke(app, ["sweep", "--model", "smollm2-135m", "--quants", LEVELS, "--limit", "3",
                           "--orderings", "original", "--threads", "2", "--out", str(folder)],
                     env={"COLUMNS": "120"})
    assert res.exit_code == 0, res.output
    return folder, res.output


def test_sweep_prints_table_and_pareto_view_and_writes_runs(sweep_folder, smollm2_path):
    folder, output = sweep_folder
    assert "Sweep: smollm2-135m (Q4_1) on everyday-mobile: quality" in output
    assert "Sweep: smollm2-135m (Q4_1) on everyday-mobile: cost" in output
    assert "Pareto view" in output and "front" in output
    assert "Δacc vs F16" in output  # the most precise level is the reference
    assert "not the original model's quality" in output
    sweep = json.loads((folder / "sweep.json").read_text())
    assert [lv["level"] for lv in sweep["levels"]] == ["F16", "Q8_0", "Q4_1", "Q2_K"]
    assert sweep["reference"] == "F16" and sweep["model"]["quant"] == "Q4_1"
    by_level = {lv["level"]: lv for lv in sweep["levels"]}
    assert by_level["Q4_1"]["file"]["origin"] == "published"  # the bundled file itself, not a requantization
    assert by_level["Q8_0"]["file"]["facts"]["tensor_types"]["Q8_0"] > 0
    runs = [folder / lv["run"] for lv in sweep["levels"]]
    assert all((r / "result.json").is_file() for r in runs)
    for lv, run in zip(sweep["levels"], runs):
        result = json.loads((run / "result.json").read_text())
        assert result["status"] == "complete"
        assert result["model"]["alias"] == f"smollm2-135m-{lv['level']}" and result["model"]["quant"] == lv["level"]
        assert result["model"]["sha256"] == lv["file"]["sha256"]
    q41 = json.loads((folder / by_level["Q4_1"]["run"] / "result.json").read_text())
    assert Path(q41["model"]["path"]) == Path(smollm2_path)
    rows = {r["level"]: r for r in sweep["table"]}
    assert rows["F16"]["vs_reference"] is None
    for lv in ("Q8_0", "Q4_1", "Q2_K"):
        v = rows[lv]["vs_reference"]
        assert v["n_paired"] == 3 and 0 <= v["flip_rate"] <= 1 and 0 <= v["paired"]["mcnemar_p"] <= 1
    cmp = cli.invoke(app, ["compare", *map(str, runs)], env={"COLUMNS": "200"})
    assert cmp.exit_code == 0, cmp.output
    for lv in ("F16", "Q8_0", "Q4_1", "Q2_K"):
        assert f"smollm2-135m-{lv}" in cmp.output


def test_sweep_rerun_reuses_complete_levels(sweep_folder):
    folder, _ = sweep_folder
    before = sorted(p.name for p in folder.iterdir() if p.is_dir())
    res = cli.invoke(app, ["sweep", "--model", "smollm2-135m", "--quants", LEVELS, "--limit", "3",
                           "--orderings", "original", "--threads", "2", "--out", str(folder)])
    assert res.exit_code == 0, res.output
    assert sorted(p.name for p in folder.iterdir() if p.is_dir()) == before
    assert [lv["run_was"] for lv in json.loads((folder / "sweep.json").read_text())["levels"]] == ["reused"] * 4
    other = cli.invoke(app, ["sweep", "--quants", LEVELS, "--limit", "2", "--orderings", "original",
                             "--out", str(folder)])
    assert other.exit_code == 2 and "holds a sweep with other settings" in other.output and "limit" in other.output


def test_bad_level_name_is_a_clear_error(tmp_path):
    res = cli.invoke(app, ["sweep", "--quants", "Q8_0,Q9_X", "--out", str(tmp_path / "s")])
    assert res.exit_code == 2
    assert "unknown quantization level 'Q9_X'" in res.output and "Q4_K_M" in res.output
    assert not (tmp_path / "s").exists()
    res = cli.invoke(app, ["sweep", "--quants", "Q8_0,Q4_0", "--reference", "Q6_K", "--out", str(tmp_path / "s")])
    assert res.exit_code == 2 and "--reference Q6_K: not one of --quants" in res.output
    with pytest.raises(MobevalError, match="given twice"):
        parse_levels("Q8_0,q8_0")
    assert [lv.name for lv in parse_levels("Q2_K,Q4_K_M,Q8_0,Q4_K_S,F16")] == ["F16", "Q8_0", "Q4_K_M", "Q4_K_S", "Q2_K"]


def _row(level: str, acc: float, mib: float, tps: float) -> SweepRow:
    return SweepRow(level, Path(level), True, int(mib * 2**20), None, proportion(acc, 100, "questions"), acc,
                    None, None, tps, None, None, "")


def test_pareto_front_hand_made():
    # size front: C (50 MiB, 0.50), B (80, 0.60), A (130, 0.62); D (90, 0.55) is beaten by B (smaller, better)
    # and E (60, 0.50) by C (smaller, as good). Speed front: E (320 tok/s, 0.50), B (150, 0.60), A (100, 0.62);
    # C (300, 0.50) is beaten by E (faster, as good), D (120, 0.55) by B (faster, better).
    rows = [_row("A", 0.62, 130, 100), _row("B", 0.60, 80, 150), _row("D", 0.55, 90, 120),
            _row("C", 0.50, 50, 300), _row("E", 0.50, 60, 320)]
    mark_pareto(rows)
    size = {r.level: r.pareto["size"] for r in rows}
    speed = {r.level: r.pareto["speed"] for r in rows}
    assert size == {"A": "front", "B": "front", "C": "front", "D": "dominated by B", "E": "dominated by C"}
    assert speed == {"A": "front", "B": "front", "D": "dominated by B", "C": "dominated by E", "E": "front"}


def _s(q: str, choice: int, answer: int | None = 1) -> Sample:
    return Sample(q, 0, (0, 1, 2, 3), choice, answer, "f", "", "", (0.0,) * 4, None, 1, 1, 0.1)


def test_vs_reference_pairs_by_question_under_the_original_order():
    ref = [_s("q1", 1), _s("q2", 1), _s("q3", 0), _s("q4", 2), _s("q5", 3, None)]
    # q1 right->wrong, q2 right->right, q3 wrong->right, q4 wrong->other wrong (a flip, no accuracy change),
    # q5 unkeyed flip; another ordering's samples are ignored; q6 only in one run
    mine = [_s("q2", 1), _s("q1", 0), _s("q3", 1), _s("q4", 3), _s("q5", 0, None), _s("q6", 1),
            Sample("q1", 1, (1, 2, 3, 0), 0, 1, "f", "", "", None, None, 1, 1, 0.1)]
    v = vs_reference(ref, mine)
    assert v.n_paired == 5 and v.flip_rate == pytest.approx(4 / 5)
    assert v.paired.n == 4 and v.paired.difference == 0.0 and (v.paired.only_a, v.paired.only_b) == (1, 1)
    assert v.paired.mcnemar_p == 1.0
