"""The transformers runner on the bundled SmolLM2 GGUF (dequantized to float32), against llama.cpp.

Tolerance for the letter log-probabilities: transformers runs the Q4_1 weights dequantized, llama.cpp
runs them through its quantized kernels (activations rounded to 8 bits in the Q4_1 x Q8_1 dot
products). On 50 bundled questions x 4 orderings the two differ by at most 0.65 (mean 0.072; 0.30 and
0.084 on the prompts below). On 20 bundled questions, transformers differs from llama.cpp running the
same weights written out as an F32 GGUF by at most 0.017 (mean 0.002), while llama.cpp F32 differs
from llama.cpp Q4_1 by 0.43, as much as transformers does: the gap is llama.cpp's quantization, which
the tolerances below bound, not a difference in the model's arithmetic.
"""

import numpy as np
import pytest

from mobeval.core.errors import RunnerError
from mobeval.core.orderings import orderings_for
from mobeval.text.prompts import load_template
from mobeval.core.runners import REGISTRY, make_runner
from mobeval.text.runners import transformers_hf
from mobeval.text.runners.packing import common_prefix, group_requests
from mobeval.text.types import ChoiceRequest, GenerateRequest

LOGPROB_TOL = 0.75  # max |transformers - llama.cpp| per letter; the largest seen is 0.65 (see above)
MEAN_TOL = 0.15  # means seen: 0.072-0.084
TEMPLATE = load_template("mobile-mmlu", "mobile-mmlu")
CYCLIC = orderings_for(4, "cyclic")


@pytest.fixture(scope="module")
def bundled():
    from mobeval.core.benchmarks import load_benchmark
    from mobeval.core.options import BenchOptions

    bench = load_benchmark("everyday-mobile", BenchOptions())
    return bench, [bench.questions[i] for i in (0, 13, 39, 52)]


@pytest.fixture(scope="module")
def tf(smollm2_path):
    for module in ("torch", "transformers", "gguf", "accelerate"):
        pytest.importorskip(module, reason=f"{module} is not installed: pip install -e '.[transformers]'")
    from mobeval.text.runners.transformers_hf import TransformersRunner

    r = TransformersRunner(smollm2_path, n_threads=2, batch_tokens=640)
    yield r
    r.close()


def requests_for(bench, questions, header=""):
    return [ChoiceRequest(header + bench.prompt(TEMPLATE, q, o), TEMPLATE.continuations(4))
            for q in questions for o in CYCLIC]


def logprobs(responses):
    return np.array([r.logprobs for r in responses])


def test_registered_and_missing_backend_names_the_install_line(monkeypatch, smollm2_path):
    assert REGISTRY["transformers"].target == "mobeval.text.runners.transformers_hf:TransformersRunner"

    def no_torch(name):
        raise ModuleNotFoundError(f"No module named {name!r}", name=name)

    monkeypatch.setattr(transformers_hf, "import_module", no_torch)
    with pytest.raises(RunnerError, match=r"needs torch and transformers \(torch is missing\).*torch==2\.13\.0"):
        make_runner("transformers", smollm2_path, {"n_threads": 2, "n_ctx": 512, "chat": False})


def test_token_ids_match_llama_cpp(tf, runner, bundled):
    """Same prompt, same ids: the GGUF says add_bos_token=false, and both tokenizers honour it."""
    bench, questions = bundled
    for req in requests_for(bench, questions):
        assert tf._tokenize(req.prompt) == runner._tokenize(req.prompt)


def test_letter_logprobs_close_to_llama_cpp(tf, runner, bundled):
    bench, questions = bundled
    reqs = requests_for(bench, questions)
    runner.llm.n_tokens = 0
    ours, theirs = logprobs(tf.score_choices(reqs)), logprobs(runner.score_choices(reqs))
    diff = np.abs(ours - theirs)
    assert diff.max() <= LOGPROB_TOL and diff.mean() <= MEAN_TOL, f"max {diff.max():.3f} mean {diff.mean():.3f}"
    assert (ours.argmax(1) == theirs.argmax(1)).mean() >= 0.9


def test_batched_scoring_equals_one_at_a_time(tf, bundled):
    bench, questions = bundled
    # a long shared header makes two questions one group, with suffixes of different lengths
    header = bench.prompt(TEMPLATE, questions[1], (0, 1, 2, 3)) + " A\n\n"
    reqs = requests_for(bench, [questions[0], questions[3]], header)
    batched = tf.score_choices(reqs)
    assert len({len(tf._tokenize(r.prompt)) for r in reqs}) > 1
    assert group_requests([tf._tokenize(r.prompt) for r in reqs], 8) == [range(0, 8)]
    single = []
    for r in reqs:
        tf._past = None  # from scratch: no header kept from the last call
        single += tf.score_choices([r])
    np.testing.assert_allclose(logprobs(batched), logprobs(single), atol=1e-4)
    assert sum(r.evaluated_tokens for r in batched) < sum(r.prompt_tokens for r in batched) / 2
    assert all(r.evaluated_tokens == r.prompt_tokens for r in single)


def test_packed_blocks_equal_prompts_scored_alone(tf, smollm2_path, bundled):
    """Several questions, each in 4 orderings and in one, packed into blocks small enough that a call
    spans several (the header's KV reused from block to block, and dropped where the header changes):
    the same log-probabilities as each prompt run alone in its own forward pass, and every token of
    the prompts run once (the header once per header change)."""
    import torch

    bench, _ = bundled
    questions = bench.questions[:9]
    other = ChoiceRequest("Something else entirely. " + bench.prompt(TEMPLATE, questions[0], CYCLIC[0]),
                          TEMPLATE.continuations(4))
    reqs = (requests_for(bench, questions[:4]) + [other]
            + [ChoiceRequest(bench.prompt(TEMPLATE, q, CYCLIC[0]), TEMPLATE.continuations(4)) for q in questions[4:]])
    small = TransformersRunnerFor(tf, batch_tokens=200)
    packed = small.score_choices(reqs)
    with torch.inference_mode():
        alone = []
        for r in reqs:
            ids = tf._tokenize(r.prompt)
            row = torch.log_softmax(tf.model(torch.tensor([ids])).logits[0, -1].double(), -1)
            alone.append([float(row[i]) for i in tf._continuation_ids(r.prompt, ids, r.continuations)])
    np.testing.assert_allclose(logprobs(packed), np.array(alone), atol=1e-4)
    assert [int(np.argmax(x)) for x in logprobs(packed)] == [int(np.argmax(x)) for x in alone]
    # the least any scheme can run: each distinct prefix once (the nodes of the prompts' token trie)
    seqs = [tf._tokenize(r.prompt) for r in reqs]
    distinct = len({tuple(s[:k]) for s in seqs for k in range(1, len(s) + 1)})
    run = sum(r.evaluated_tokens for r in packed)
    header = common_prefix([s for s, r in zip(seqs, reqs) if r is not other])
    # more only by the header run again when it comes back after `other`, and the odd token two questions
    # in different blocks start with beyond the header (only the header's KV is kept between blocks)
    assert distinct <= run <= distinct + 2 * header


def TransformersRunnerFor(tf, batch_tokens):
    """The fixture's loaded model with another token budget (no second load)."""
    import copy

    other = copy.copy(tf)
    other.batch_tokens, other._past = batch_tokens, None
    return other


def test_generate_is_greedy_and_bounded(tf):
    import torch

    prompt = "The capital of France is"
    (short,), (long,) = tf.generate([GenerateRequest(prompt, 2)]), tf.generate([GenerateRequest(prompt, 6)])
    assert short.generated_tokens == 2 and long.generated_tokens == 6
    assert long.text.startswith(short.text) and long.ttft_s <= long.latency_s
    ids = tf._tokenize(prompt)
    with torch.inference_mode():  # reference: argmax of a full forward pass at every step, no cache
        for _ in range(6):
            ids.append(int(tf.model(torch.tensor([ids])).logits[0, -1].argmax()))
    assert tf.tok.decode(ids)[len(prompt):] == long.text


def test_a_letter_that_is_not_one_token_is_refused(tf):
    with pytest.raises(RunnerError, match="one token"):
        tf.score_choices([ChoiceRequest("Answer:", ("A", " Paris Berlin"))])


def test_a_model_folder_runs_from_the_cli(tf, bundled, tmp_path):
    """`--model FOLDER`: the dequantized SmolLM2 written out as a transformers folder scores as the GGUF
    it came from (same float32 weights; same token ids where the tokenizers agree on BOS)."""
    import json

    from typer.testing import CliRunner

    from mobeval.cli import app

    from mobeval.text.runners.transformers_hf import save_dequantized

    folder = tmp_path / "smollm2-folder"
    save_dequantized(tf.model, tf.tok, folder)
    res = CliRunner().invoke(app, ["run", "--runner", "transformers", "--model", str(folder), "--limit", "4",
                                   "--orderings", "original", "--threads", "2", "--output-dir", str(tmp_path / "runs"),
                                   "--idle-seconds", "0", "-q"])
    assert res.exit_code == 0, res.output
    run_dir = next((tmp_path / "runs").iterdir())
    result = json.loads((run_dir / "result.json").read_text())
    assert result["runner"]["name"] == "transformers" and result["model"]["alias"] == "smollm2-folder"
    assert result["task"]["scores"]["n_questions"] == 4
    bench, _ = bundled
    import mobeval.engine as engine
    from mobeval.config import load_config

    samples = [json.loads(line) for line in (run_dir / "samples.jsonl").read_text().splitlines()]
    plan = engine.plan(load_config(None, {"limit": 4, "orderings": "original"}))
    reqs = [ChoiceRequest(plan.task.bench.prompt(TEMPLATE, q, (0, 1, 2, 3)), TEMPLATE.continuations(4))
            for q in plan.task.questions]
    assert [s["question_id"] for s in samples] == [q.id for q in plan.task.questions]
    from transformers import AutoTokenizer

    folder_ids = AutoTokenizer.from_pretrained(folder)(reqs[0].prompt)["input_ids"]
    tol = 1e-4 if folder_ids == tf._tokenize(reqs[0].prompt) else LOGPROB_TOL
    np.testing.assert_allclose([s["logprobs"] for s in samples], logprobs(tf.score_choices(reqs)), atol=tol)


def test_model_names_for_the_transformers_runner(tmp_path):
    """A mistyped alias gets the alias error, not a hub lookup; an owner/name id offline a clear one."""
    from mobeval.cli import app
    from typer.testing import CliRunner

    cli = CliRunner()
    res = cli.invoke(app, ["run", "--runner", "transformers", "--model", "smollm-135m", "--limit", "2",
                           "--output-dir", str(tmp_path)])
    assert res.exit_code != 0 and "unknown model 'smollm-135m'" in res.output
    pytest.importorskip("transformers")
    res = cli.invoke(app, ["run", "--runner", "transformers", "--model", "HuggingFaceTB/no-such-model-here",
                           "--limit", "2", "--output-dir", str(tmp_path)])
    assert res.exit_code != 0 and "transformers could not load HuggingFaceTB/no-such-model-here" in res.output


def test_dequantized_cache_loads_the_same_model(tf, bundled, smollm2_path, tmp_path, monkeypatch):
    """A GGUF's dequantized weights kept in the cache load back to the same token ids and scores."""
    from mobeval.text.runners.transformers_hf import TransformersRunner, dequantized_folder, save_dequantized

    monkeypatch.setenv("MOBEVAL_CACHE", str(tmp_path / "cache"))  # this test's own, empty cache
    folder = dequantized_folder(smollm2_path, "float32")
    assert not folder.exists()
    save_dequantized(tf.model, tf.tok, folder)
    again = TransformersRunner(smollm2_path, n_threads=2, batch_tokens=640)
    try:
        assert again.info.settings["loaded_from"] == f"dequantized cache {folder}"
        bench, questions = bundled
        reqs = requests_for(bench, questions)
        assert [again._tokenize(r.prompt) for r in reqs] == [tf._tokenize(r.prompt) for r in reqs]
        # float32 sums in another order (oneDNN's AVX-512 blocking): 1.7e-5 nats apart on an Intel Xeon, 0 on an AMD EPYC
        np.testing.assert_allclose(logprobs(again.score_choices(reqs)), logprobs(tf.score_choices(reqs)), atol=1e-4)
    finally:
        again.close()
