"""The vlm task kind on hand-made answers (no runtime): prompts, how answers are read, scores under
orderings against hand-computed figures, the per-part speed figures, record checks, the report, compare
and predictions.csv."""

from __future__ import annotations

import csv
import json
from dataclasses import asdict, replace

import pytest

pytest.importorskip("PIL")

from rich.console import Console

from mobeval.vlm.benchmarks import digits
from mobeval.vlm.benchmarks.items import VlmItem
from mobeval.comparison import compare_table
from mobeval.core.orderings import orderings_for
from mobeval.report import render
from mobeval.results.assemble import build_result
from mobeval.results.store import Segment
from mobeval.vlm.runners.base import VlmAnswer, VlmInfo, VlmTimings
from mobeval.core.kinds import task_kind
from mobeval.vlm.task.answers import choose, exact_match, normalise, normalised_match
from mobeval.vlm.task.plan import make_record
from mobeval.vlm.task.prompt import build_prompt
from mobeval.vlm.task.record import VlmRecord

IMG = digits.folder() / "images"
FIVE = VlmItem("d5", (IMG / "digits-00005.png",), "Which digit is shown?", ("3", "5", "8", "2"), answer=1,
               category="digit 5")
ZERO = VlmItem("d0", (IMG / "digits-00010.png",), "Which digit is shown?", ("0", "6", "9", "4"), answer=0,
               category="digit 0")


def timings(encode=10.0, tokens=1, decode_ms=None, prompt=80):
    return VlmTimings(preprocess_ms=2.0, encode_ms=encode, prefill_ms=40.0, ttft_ms=52.0 + encode,
                      decode_ms=decode_ms, prompt_tokens=prompt, image_tokens=64, decode_tokens=tokens)


def test_prompt_shows_options_in_the_ordering_and_images_first():
    order = orderings_for(4, "cyclic")[1]  # (1, 2, 3, 0)
    assert build_prompt(FIVE, order) == ("<image>\nWhich digit is shown?\nA. 5\nB. 8\nC. 2\nD. 3\n"
                                         "Answer with the option's letter from the given choices directly.")
    two = VlmItem("t", (IMG / "a.png", IMG / "b.png"), "Left <image>, right <image>: same digit?",
                  ("yes", "no"), hint="Two digits.")
    assert build_prompt(two, (0, 1)).splitlines()[:2] == ["Two digits.", "Left <image>, right <image>: same digit?"]
    assert build_prompt(VlmItem("o", (IMG / "a.png",), "Which digit? Answer with the digit only.")) == \
        "<image>\nWhich digit? Answer with the digit only."


@pytest.mark.parametrize("answer, reference, exact, normalised", [
    ("7", "7", True, True), (" 7\n", "7", True, True), ("The 7.", "7", False, True), ("seven", "7", False, False),
    ("A cat", "cat", False, True), ("cat!", "Cat", False, True), ("black  and white", "black and white", False, True),
    ("", "7", False, False),
])
def test_open_answer_matching(answer, reference, exact, normalised):
    assert exact_match(answer, reference) is exact
    assert normalised_match(answer, reference) is normalised


def test_normalise_and_choose():
    assert normalise("  The Answer: an apple, A PEAR!  ") == "answer apple pear"
    assert choose("whatever", (-3.0, -0.5, -0.5, -9.0), 4) == 1  # log-probs win; a tie goes to the first
    assert [choose(t, None, 4) for t in ("C", "(B)", "D. 2", "Answer: A", "E", "It is B", "")] == \
        [2, 1, 3, 0, None, None, None]


def hand_made_records() -> list[VlmRecord]:
    """d5: right under every ordering, by log-prob. d0: always says "A" (text only), the 4th reply
    unreadable. Three open answers: exact, normalised only, wrong."""
    out = []
    for k, order in enumerate(orderings_for(4, "cyclic")):
        right = order.index(1)
        lp = tuple(-0.1 if p == right else -4.0 for p in range(4))
        out.append(make_record(FIVE, k, order, build_prompt(FIVE, order),
                               VlmAnswer("ABCD"[right], timings(encode=10.0 + k), lp), lp, 0.1))
        text = "A" if k < 3 else "The digit"
        out.append(make_record(ZERO, k, order, build_prompt(ZERO, order),
                               VlmAnswer(text, timings(encode=20.0, tokens=3, decode_ms=50.0)), None, 0.2))
    for ref, text in (("3", " 3 "), ("8", "The 8."), ("1", "7")):
        item = VlmItem(f"o{ref}", (IMG / "digits-00005.png",), "Which digit? Answer with the digit only.",
                       reference=ref, category=f"digit {ref}")
        out.append(make_record(item, 0, (), build_prompt(item), VlmAnswer(text, timings(encode=30.0, tokens=2,
                                                                                         decode_ms=20.0)), None, 0.3))
    return out


def test_scores_under_orderings_and_open_matches_by_hand():
    kind = task_kind("vlm")
    s = kind.section(hand_made_records())
    b = s.multiple_choice
    assert (s.n_items, s.n_multiple_choice, s.n_open) == (5, 2, 3)
    assert (b.accuracy_original, b.accuracy_mean, b.accuracy_strict, b.consistency) == (1.0, 0.625, 0.5, 0.5)
    assert b.invalid == 1 and b.n_samples == 8 and b.accuracy_debiased is None  # d0 has no log-probs
    # valid letters: d5 B, A, D, C; d0 A, A, A -> A 4/7, others 1/7 each; uniform 1/4
    assert b.position_bias == pytest.approx(0.5 * (abs(4 / 7 - 1 / 4) + 3 * abs(1 / 7 - 1 / 4)))
    assert s.open.exact_match == pytest.approx(1 / 3) and s.open.normalised_match == pytest.approx(2 / 3)
    assert set(s.per_category) == {"digit 0", "digit 5"} and s.per_category["digit 5"].accuracy_strict == 1.0


def test_records_hold_what_was_chosen_and_timed():
    recs = hand_made_records()
    d0 = [r for r in recs if r.item_id == "d0"]
    assert [r.chosen_option for r in d0] == [0, 1, 2, None] and [r.correct for r in d0] == [True, False, False, False]
    o8 = next(r for r in recs if r.item_id == "o8")
    assert (o8.order, o8.choice, o8.reference, o8.exact_match, o8.correct) == ((), None, "8", False, True)
    assert (d0[0].encode_ms, d0[0].prompt_tokens, d0[0].image_tokens, d0[0].decode_tokens) == (20.0, 80, 64, 3)
    assert d0[0].decode_tokens_per_s == pytest.approx(2 / 0.05)
    assert all(VlmRecord.from_json(json.loads(json.dumps(r.to_json()))) == r for r in recs)
    kind = task_kind("vlm")
    assert all(kind.record_problem(r, 4) == "" for r in recs)


@pytest.mark.parametrize("change, says", [
    (dict(choice=7), "choice 7 is not an option index"),
    (dict(correct=False), "correct is False but the choice says True"),
    (dict(order=(0, 0, 1, 2)), "is not an ordering of the options"),
    (dict(logprobs=(-1.0,)), "1 logprobs for 4 options"),
    (dict(encode_ms=-3.0), "encode_ms -3.0 is not a duration"),
    (dict(ordering=4), "ordering 4 is outside 0..3"),
    (dict(reference="5"), "a multiple-choice record has no reference text"),
])
def test_a_record_mobeval_cannot_have_written_is_named(change, says):
    r = hand_made_records()[0]
    assert says in task_kind("vlm").record_problem(replace(r, **change), 4)


def test_performance_figures_by_hand():
    recs = hand_made_records()
    recs = [replace(r, warmup=True) if r.item_id == "d5" else r for r in recs]  # the engine's warm-up question
    p = task_kind("vlm").performance(recs)
    # measured: d0 (4 records, encode 20 ms) and three open answers (30 ms)
    assert p["encode_p50"].value == pytest.approx(0.020) and p["encode_mean"].value == pytest.approx((80 + 90) / 7e3)
    assert p["encode_mean"].count == 7 and p["ttft_p50"].value == pytest.approx(0.072)
    assert p["prompt_tokens_mean"].value == 80 and p["image_tokens_mean"].value == 64
    # pooled decode speed: d0 4 x (3-1) tokens in 4 x 50 ms, open 3 x (2-1) in 3 x 20 ms
    assert p["decode_tokens_per_s"].value == pytest.approx((8 + 3) / (0.2 + 0.06))
    assert p["prefill_tokens_per_s"].value == pytest.approx(80 / 0.040)
    assert p["question_latency_p50"].value == pytest.approx(0.3)  # d0: 4 x 0.2 s = 0.8; open 0.3 s each
    untimed = [replace(r, encode_ms=None) for r in recs]
    assert task_kind("vlm").performance(untimed)["encode_mean"].value is None


def _result(recs, runner="hybrid"):
    kind = task_kind("vlm")
    seg = Segment(started_at="2026-12-02T00:00:00Z", finished_at="2026-12-02T00:00:05Z", questions=5,
                  load_time_s=1.0, eval_time_s=4.0, wall_time_s=5.0, baseline_rss_bytes=100 << 20,
                  peak_rss_bytes=300 << 20, rss_samples=10, energy=[])
    plan = {"model": {"alias": "digits-vlm", "name": "digits-vlm", "size_bytes": 200 << 20, "remote": False,
                      "parts": {"encoder": {"path": "/m/encoder.onnx"}, "lm": {"path": "/m/lm.gguf"}},
                      "encoder_sqnr_db": 31.5},
            "data": {"bench": "vlm-digits", "sources": ["items.jsonl"], "n_items_total": 200, "n_items_selected": 5,
                     "has_key": True}}
    identity = {"config": {"orderings": "cyclic", "max_tokens": 5}, "selection_sha256": "x" * 64}
    info = VlmInfo(name=runner, backend_version="hand-made records", settings={"threads": 2})
    return build_result(kind, plan, identity, {}, asdict(info), recs, [seg], complete=True)


def test_report_and_compare_print_the_figures():
    recs = hand_made_records()
    r = _result(recs)
    console = Console(width=200, record=True)
    console.print(render(r))
    text = console.export_text()
    for row in ("accuracy, original order", "100.0%", "accuracy, every ordering", "50.0%", "consistency",
                "position bias", "0.321", "invalid answers", "1 of 8", "open answers, exact match", "33.3%",
                "open answers, normalised match", "66.7%", "vision encode p50 / p90 / p99", "time to first token",
                "decode tokens/s", "42.3 tokens/s", "prompt tokens, mean", "image tokens 64.0",
                "encoder SQNR 31.5 dB", "2 multiple choice x 4 orderings (cyclic), 3 open", "Letter chosen"):
        assert row in text, row
    other = [replace(x, choice=0, correct=x.order[0] == x.answer, logprobs=None) if x.order else x for x in recs]
    table = compare_table(["a", "b"], [r, _result(other, "hybrid-int8")], [recs, other])
    console = Console(width=200, record=True)
    console.print(table)
    text = console.export_text()
    assert "same choice as a" in text and "50.0% of 2" in text and "vision encode p50" in text


def test_predictions_csv(tmp_path):
    recs = hand_made_records()
    (path,) = task_kind("vlm").write_outputs(tmp_path, recs, ["d0", "d5", "o3", "o8", "o1"])
    rows = list(csv.DictReader(path.open(encoding="utf-8")))
    assert len(rows) == 11 and rows[0]["item_id"] == "d0" and rows[3]["chosen_letter"] == ""
    assert (rows[1]["shown_order"], rows[1]["chosen_letter"], rows[1]["chosen_option"], rows[1]["correct"]) == \
        ("BCDA", "A", "B", "0")
    assert (rows[-1]["item_id"], rows[-1]["answer_text"], rows[-1]["correct"]) == ("o1", "7", "0")


def test_settings_of_a_vlm_run():
    from mobeval.config import load_config
    from mobeval.core.errors import MobevalError

    c = load_config(None, {"task": "vlm", "runner": "llama.cpp", "orderings": "random:3", "max_tokens": 8})
    assert (c.bench, c.model_name, c.orderings, c.max_tokens) == ("vlm-digits", "digits-clip", "random:3", 8)
    for given, says in (({"method": "generate"}, "--method: for mcq tasks only; this run is vlm"),
                        ({"template": "mmlu"}, "--template: for mcq tasks only; this run is vlm"),
                        ({"bench": "mmlu"}, "--bench mmlu is a mcq benchmark, not vlm")):
        with pytest.raises(MobevalError, match=says):
            load_config(None, {"task": "vlm", "runner": "llama.cpp", **given})
    with pytest.raises(MobevalError, match="--orderings: for mcq and vlm tasks only"):
        load_config(None, {"task": "image-classification", "orderings": "original"})
    with pytest.raises(MobevalError, match="--max-tokens is used only with --method generate"):
        load_config(None, {"max_tokens": 8})  # mcq still ties it to --method generate


def test_item_outcomes_for_paired_comparison():
    out = task_kind("vlm").item_outcomes(hand_made_records())
    assert list(out) == ["every ordering", "original order", "open, normalised match"]
    assert out["every ordering"] == {"d5": (True, (1, 1, 1, 1)), "d0": (False, (0, 1, 2, None))}
    assert out["original order"] == {"d5": (True, 1), "d0": (True, 0)}
    assert out["open, normalised match"] == {"o3": (True, "3"), "o8": (True, "8"), "o1": (False, "7")}


def test_paired_comparison_of_two_runs():
    from mobeval.comparison import paired_rows

    recs = hand_made_records()
    always_a = [replace(x, choice=0, correct=x.order[0] == x.answer, logprobs=None) if x.order else x for x in recs]
    (row,) = paired_rows("vlm", ["a", "b"], [recs, always_a])
    assert row[:4] == ["b", "every ordering", "2", "50.0% → 0.0%"]


def test_the_board_reads_a_vlm_result():
    """The board's figures of a vlm run, against the hand-computed section above."""
    from mobeval.board.figures import KIND_FIGURES

    result = _result(hand_made_records())
    spec = KIND_FIGURES["vlm"]
    figs = {f.key: f.extract(result.task) for f in spec.figures}
    # one ordering-set of log-probs is missing (d0), so accuracy is the original order's: 2 of 2
    assert (figs["accuracy"].value, figs["accuracy"].n, figs["accuracy"].basis) == (1.0, 2, "original")
    assert figs["consistency"].value == 0.5 and figs["consistency"].n == 2
    assert figs["open_match"].value == pytest.approx(2 / 3) and figs["open_match"].n == 3
    assert set(spec.breakdown(result.task)) == {"digit 0", "digit 5"}
