"""Each benchmark takes only the options it declares: any other, a missing path or a nonsense value is
an error naming the flag as the user typed it, raised before anything is loaded (issue 11)."""

from __future__ import annotations

from pathlib import Path

import pytest

from mobeval.core.benchmarks import BENCHMARKS, REGISTRY, BenchOptions, load_benchmark
from mobeval.core.options import FLAGS
from mobeval.core.errors import DataError, MobevalError

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.mark.parametrize("bench, opts, message", [
    ("mcq", BenchOptions(data=FIXTURES / "mcq.csv", subjects=("math",)),
     "--subjects is not taken by benchmark mcq (it takes: --data, --column, --answers)"),
    ("mcq", BenchOptions(data=FIXTURES / "mcq.csv", shots=5),
     "--shots is not taken by benchmark mcq (it takes: --data, --column, --answers)"),
    ("mobile-mmlu", BenchOptions(data=FIXTURES / "mobile_mmlu", columns={"question": "q"}),
     "--column is not taken by benchmark mobile-mmlu (it takes: --data, --answers)"),
    ("mobile-mmlu-pro", BenchOptions(data=FIXTURES / "mobile_mmlu_pro.csv", shots=1),
     "--shots is not taken by benchmark mobile-mmlu-pro (it takes: --data, --answers)"),
    ("mmlu", BenchOptions(data=FIXTURES / "mmlu", answers=FIXTURES / "answers.csv"),
     "--answers is not taken by benchmark mmlu (it takes: --data, --shots, --subjects)"),
    ("everyday-mobile", BenchOptions(subjects=("travel",)),
     "--subjects is not taken by benchmark everyday-mobile (it takes: --answers)"),
])
def test_an_option_the_benchmark_does_not_take(bench, opts, message):
    with pytest.raises(MobevalError) as err:
        load_benchmark(bench, opts)
    assert str(err.value) == message


def test_data_for_the_bundled_set_is_refused_not_ignored():
    with pytest.raises(MobevalError) as err:
        load_benchmark("everyday-mobile", BenchOptions(data=Path("/nonexistent/my.csv")))
    assert str(err.value) == ("--data is not taken by benchmark everyday-mobile (it takes: --answers); "
                              "for a file of your own use --bench mcq --data FILE")


@pytest.mark.parametrize("bench", [b for b, e in BENCHMARKS.items() if "data" in e.takes])
def test_missing_data_path_is_named(bench):
    with pytest.raises(DataError) as err:
        load_benchmark(bench, BenchOptions(data=Path("/nonexistent/my.csv")))
    assert str(err.value) == "--data /nonexistent/my.csv: no such file or folder"


def test_missing_answers_path_is_named():
    with pytest.raises(DataError, match=r"^--answers /nonexistent/key\.csv: no such file or folder$"):
        load_benchmark("everyday-mobile", BenchOptions(answers=Path("/nonexistent/key.csv")))


def test_nonsense_values():
    with pytest.raises(MobevalError, match=r"^--shots must be 0 or more, not -1$"):
        load_benchmark("mmlu", BenchOptions(data=FIXTURES / "mmlu", shots=-1))
    with pytest.raises(MobevalError, match=r"^--subjects: an empty subject name"):
        load_benchmark("mmlu", BenchOptions(data=FIXTURES / "mmlu", subjects=("astronomy", " ")))


def test_options_taken_still_load():
    assert len(load_benchmark("mmlu", BenchOptions(data=FIXTURES / "mmlu", shots=1, subjects=("astronomy",)))
               .questions) == 3
    assert len(load_benchmark("mcq", BenchOptions(data=FIXTURES / "mcq.csv", columns={"id": "id"},
                                                  answers=FIXTURES / "mcq_key.csv")).questions) == 3
    assert load_benchmark("everyday-mobile", BenchOptions(shots=0)).name == "everyday-mobile"  # the default


def test_every_benchmark_declares_known_options_and_registry_lists_them_all():
    assert set(REGISTRY) == set(BENCHMARKS)
    assert all(set(e.takes) <= set(FLAGS) for e in BENCHMARKS.values())
    assert set(FLAGS) == {"data", "answers", "shots", "columns", "subjects", "labels"}
    assert set(FLAGS) == set(BenchOptions().__dataclass_fields__)


# every benchmark option, given where its benchmark does not take it: refused by name, whatever the kind
_GIVEN = {"data": ["--data", "."], "answers": ["--answers", "pyproject.toml"], "shots": ["--shots", "1"],
          "columns": ["--column", "question=q"], "subjects": ["--subjects", "a"], "labels": ["--labels", "pyproject.toml"]}


@pytest.mark.parametrize("bench,option", [(b, o) for b, e in BENCHMARKS.items() for o in FLAGS if o not in e.takes])
def test_every_option_a_benchmark_does_not_take_is_refused_by_name(bench, option, tmp_path):
    from typer.testing import CliRunner

    from mobeval.cli import app

    res = CliRunner().invoke(app, ["run", "--bench", bench, *_GIVEN[option], "--output-dir", str(tmp_path)],
                             env={"COLUMNS": "200"})
    text = " ".join(res.output.split())
    assert res.exit_code == 2 and f"{FLAGS[option]} is not taken by benchmark {bench}" in text, text
    assert not any(tmp_path.iterdir())
