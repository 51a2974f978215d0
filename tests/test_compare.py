"""Per-question agreement between runs, hand-computed, and `mobeval compare` on real runs."""

import pytest
from typer.testing import CliRunner

from mobeval.cli import app
from mobeval.text.samples import Sample
from mobeval.text.task.agreement import agreement

CYCLIC = [(0, 1, 2, 3), (1, 2, 3, 0)]


def s(q, k, choice, lp=(-1.0, -2.0, -3.0, -4.0)):
    return Sample(q, k, CYCLIC[k], choice, 0, "f", "", "h", lp, None, 1, 1, 0.1)


def test_agreement_counts_options_not_letters():
    a = [s("q1", 0, 0), s("q1", 1, 3), s("q2", 0, 1), s("q2", 1, 1)]
    # q1: same option under both orderings (0, then 0 via position 3 <-> position 3): agree
    # q2: ordering 0 agrees (option 1); ordering 1 picks position 2 = option 3 instead of option 2
    b = [s("q1", 0, 0, (-1.5, -2.0, -3.0, -4.0)), s("q1", 1, 3), s("q2", 0, 1), s("q2", 1, 2), s("q3", 0, 0)]
    g = agreement(a, b)
    assert g.shared_questions == 2
    assert g.same_choice == 1.0
    assert g.same_every_ordering == 0.5
    assert g.max_logprob_gap == pytest.approx(0.5)


def test_compare_cli_on_two_real_runs(tmp_path):
    cli = CliRunner()
    for threads in ("1", "2"):
        res = cli.invoke(app, ["run", "--limit", "4", "--orderings", "original", "--threads", threads,
                               "--output-dir", str(tmp_path), "-q"])
        assert res.exit_code == 0, res.output
    dirs = sorted(str(p) for p in tmp_path.iterdir())
    res = cli.invoke(app, ["compare", *dirs], env={"COLUMNS": "160"})
    assert res.exit_code == 0, res.output
    assert "same choice as #1" in res.output and "100.0% of 4" in res.output
    # the paired test on the same 4 questions: no difference, no flip
    assert "Paired against #1" in res.output and "+0.0 pts [+0.0, +0.0]" in res.output
    assert "not significant" in res.output and "McNemar" in res.output
    assert cli.invoke(app, ["compare", dirs[0]]).exit_code == 2


def keyed(q, choice, answer=0):
    """A question under the original order only, right when choice == answer."""
    return Sample(q, 0, (0, 1, 2, 3), choice, answer, "f", "", "h", None, None, 1, 1, 0.1)


def test_paired_rows_hand_computed():
    from mobeval.comparison import paired_rows

    ref = [keyed(f"q{i}", 0) for i in range(10)]  # right on all 10
    worse = [keyed(f"q{i}", 1 if i < 9 else 0) for i in range(10)]  # wrong on 9 of them
    other = [keyed(f"q{i}", 2 if i < 1 else 0) for i in range(10)] + [keyed("extra", 0)]  # one flip; an unshared item
    rows = paired_rows("mcq", ["#1", "#2", "#3"], [ref, worse, other])
    assert rows[0] == ["#2", "original order", "10", "100.0% → 10.0%", "-90.0 pts [-100.0, -70.0]", "90.0%", "9/0",
                       f"{2 * 0.5 ** 9:.3g}", "significant"]  # McNemar: 2 * P[Bin(9, 1/2) <= 0] = 0.00391
    assert rows[1][1:4] == ["original order", "10", "100.0% → 90.0%"] and rows[1][5:] == ["10.0%", "1/0", "1",
                                                                                          "not significant"]


def test_debiased_is_the_paired_basis_when_both_runs_have_it():
    from mobeval.comparison import paired_rows

    a = [s("q1", 0, 0), s("q1", 1, 3), s("q2", 0, 1), s("q2", 1, 1)]
    rows = paired_rows("mcq", ["#1", "#2"], [a, a])
    assert rows[0][1] == "debiased" and rows[0][2] == "2" and rows[0][-1] == "not significant"
    # a run under the original order only: the original order is the basis both have
    assert paired_rows("mcq", ["#1", "#2"], [a, [keyed("q1", 0), keyed("q2", 1)]])[0][1] == "original order"


def test_runs_of_different_kinds_are_refused_without_a_traceback(tmp_path):
    """Regression: compare of a multiple-choice run and an image run raised from inside the table code."""
    from typer.testing import CliRunner

    from mobeval.cli import app

    cli = CliRunner()
    for args in (["--limit", "2", "--orderings", "original"], ["--task", "image-classification"]):
        res = cli.invoke(app, ["run", *args, "--output-dir", str(tmp_path), "-q"])
        assert res.exit_code == 0, res.output
    mcq, images = sorted(p for p in tmp_path.iterdir() if p.is_dir())
    res = cli.invoke(app, ["compare", str(mcq), str(images)])
    assert res.exit_code == 2 and "Traceback" not in res.output and res.exception is not None
    assert isinstance(res.exception, SystemExit)
    assert "cannot compare runs of different task kinds (image-classification, mcq)" in " ".join(res.output.split())
