"""mobeval against lm-evaluation-harness on the same model, questions and prompts, in one run.

    pip install -e '.[bench]'      # lm-eval 0.4.13 (torch pinned to the CPU build)
    python bench/peer_lm_eval.py [--subject marketing] [--runners llama.cpp,transformers,openai]
                                 [--orderings original,cyclic] [--gguf-slice 5] [--gguf-cap 600]

Every contender runs in its own fresh process tree, one after another, and the parent samples the RSS of
that whole tree (a server included) every 10 ms, so wall time and peak memory are measured the same way
for all. Contenders, for each orderings spec:
- mobeval with each runner (`mobeval run --runner ...`; for `openai`, a llama-cpp-python server on a
  loopback port, started inside the measured time);
- lm-evaluation-harness, `hf` backend on the same GGUF (transformers dequantizes it to float32), batch
  size 8. It has no ordering option, so the prompts of each ordering are a task of their own (4 tasks
  for cyclic), all in one `simple_evaluate`, as a user of it would run them;
- lm-evaluation-harness, `gguf` backend against llama-cpp-python's server, on the first `--gguf-slice`
  questions of the original order under a time cap; flagged invalid when its log-likelihoods are
  degenerate (every option of a question equal).
The prompts given to lm-eval are mobeval's own, byte for byte (its MMLU template, zero-shot), with the
letters as the choices after lm-eval's default " " delimiter: the same continuation (" A") mobeval scores.

Prints a table and the goals of issue 5 as ratios, and writes JSON (default bench/results/peer_lm_eval.json).
Uses the MMLU subject in ../shared/data/mmlu when present, the bundled everyday-mobile set otherwise.
Installs nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil

from mobeval.text.runners.local_server import start_server

ROOT = Path(__file__).resolve().parents[1]
SHARED_MMLU = ROOT.parent / "shared" / "data" / "mmlu"
MIB = 2**20


# --- measuring a process tree ---------------------------------------------------------------------------

class TreeSampler:
    """Peak summed RSS of some processes and all their descendants, sampled every `period_s`. The
    process list is refreshed every `tree_period_s`: listing descendants scans /proc, which would
    otherwise cost the measured run a tenth of a core."""

    def __init__(self, period_s: float = 0.01, tree_period_s: float = 0.5):
        self.period_s, self.tree_period_s, self.peak, self.samples = period_s, tree_period_s, 0, 0
        self._roots: list[psutil.Process] = []
        self._procs: list[psutil.Process] = []
        self._listed = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def add(self, pid: int) -> None:
        self._roots.append(psutil.Process(pid))
        self._listed = 0.0

    def _list(self) -> None:
        procs = []
        for root in list(self._roots):
            try:
                procs += [root, *root.children(recursive=True)]
            except psutil.NoSuchProcess:
                pass
        self._procs, self._listed = procs, time.monotonic()

    def _rss(self) -> int:
        if time.monotonic() - self._listed >= self.tree_period_s:
            self._list()
        total = 0
        for p in self._procs:
            try:
                total += p.memory_info().rss
            except psutil.NoSuchProcess:
                pass
        return total

    def _loop(self) -> None:
        while not self._stop.wait(self.period_s):
            self.peak = max(self.peak, self._rss())
            self.samples += 1

    def __enter__(self) -> "TreeSampler":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()


def run_measured(cmd: list[str], log: Path, timeout_s: float | None = None, server_model: Path | None = None,
                 threads: int = 2) -> dict:
    """Run `cmd` (after starting a server, if asked, whose URL replaces {base}, and without /v1 {root}) in a fresh process
    tree; return wall time, server start time, peak tree RSS and whether it finished in time."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
           "TOKENIZERS_PARALLELISM": "false"}
    server = None
    with TreeSampler() as tree:
        t0 = time.perf_counter()
        if server_model is not None:
            server = start_server(server_model, log.with_suffix(".server.log"), threads=threads)
            base = server.base_url
            tree.add(server.proc.pid)
            cmd = [c.replace("{base}", base).replace("{root}", base.removesuffix("/v1")) for c in cmd]
        server_s = time.perf_counter() - t0
        proc = subprocess.Popen(cmd, stdout=open(log, "wb"), stderr=subprocess.STDOUT, env=env)
        tree.add(proc.pid)
        try:
            rc = proc.wait(timeout=timeout_s)
            timed_out = False
        except subprocess.TimeoutExpired:
            proc.kill()
            rc, timed_out = proc.wait(), True
        wall = time.perf_counter() - t0
        if server is not None:
            server.stop()
    if rc != 0 and not timed_out:
        raise RuntimeError(f"{' '.join(cmd)} failed ({rc}):\n{log.read_text()[-3000:]}")
    return {"wall_s": wall, "server_start_s": server_s if server else None, "peak_rss_mib": tree.peak / MIB,
            "rss_samples": tree.samples, "timed_out": timed_out}


# --- the questions, as mobeval builds them ----------------------------------------------------------------

def bench_settings(args) -> dict:
    if SHARED_MMLU.is_dir():
        return {"bench": "mmlu", "data": str(SHARED_MMLU), "subjects": [args.subject]}
    return {"bench": "everyday-mobile"}


def build_items(settings: dict, spec: str, limit: int | None) -> tuple[list[dict], str]:
    """mobeval's own prompts, one item per question and ordering, with the order that maps a position back
    to the underlying option."""
    import mobeval.engine as engine
    from mobeval.config import load_config
    from mobeval.core.orderings import orderings_for

    cfg = load_config(None, {**settings, "orderings": spec, "limit": limit})
    p = engine.plan(cfg)
    items = []
    for q in p.task.questions:
        for i, order in enumerate(orderings_for(len(q.options), spec, cfg.seed, q.id)):
            items.append({"question_id": q.id, "ordering": i, "order": list(order),
                          "prompt": p.task.bench.prompt(p.task.template, q, order),
                          "gold": None if q.answer is None else order.index(q.answer),
                          "n_options": len(q.options)})
    delimiter = p.task.template.choice.split("{letter}")[0]
    return items, delimiter


def write_tasks(items: list[dict], delimiter: str, folder: Path, tag: str) -> list[str]:
    """One lm-eval task per ordering: a JSONL of the prompts and a YAML that scores the letters."""
    import yaml

    names = []
    for k in sorted({it["ordering"] for it in items}):
        name = f"mobeval_{tag}_o{k}"
        data = folder / f"{name}.jsonl"
        data.write_text("".join(json.dumps(it, ensure_ascii=False) + "\n" for it in items if it["ordering"] == k))
        n = items[0]["n_options"]
        task = {"task": name, "dataset_path": "json", "dataset_kwargs": {"data_files": {"test": str(data)}},
                "test_split": "test", "output_type": "multiple_choice", "doc_to_text": "{{prompt}}",
                "doc_to_choice": list("ABCDEFGHIJ"[:n]), "doc_to_target": "gold", "target_delimiter": delimiter,
                "metric_list": [{"metric": "acc", "aggregation": "mean", "higher_is_better": True}],
                "metadata": {"version": 1.0}}
        (folder / f"{name}.yaml").write_text(yaml.safe_dump(task, allow_unicode=True, sort_keys=False))
        names.append(name)
    return names


# --- the lm-eval worker (runs in its own process) ---------------------------------------------------------

def lm_eval_worker(argv: list[str]) -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--backend", choices=["hf", "gguf"])
    ap.add_argument("--tasks-dir", type=Path)
    ap.add_argument("--tasks")
    ap.add_argument("--gguf", type=Path)
    ap.add_argument("--base-url")
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--limit", type=int)
    ap.add_argument("--out", type=Path)
    a = ap.parse_args(argv)

    t0 = time.perf_counter()
    import lm_eval
    from lm_eval.tasks import TaskManager

    if a.backend == "hf":
        import torch

        torch.set_num_threads(a.threads)
        from lm_eval.models.huggingface import HFLM

        lm = HFLM(pretrained=str(a.gguf.parent), gguf_file=a.gguf.name, dtype="float32", device="cpu",
                  batch_size=a.batch_size)
    else:
        from lm_eval.models.gguf import GGUFLM

        lm = GGUFLM(base_url=a.base_url)
    load_s = time.perf_counter() - t0
    t1 = time.perf_counter()
    out = lm_eval.simple_evaluate(model=lm, tasks=a.tasks.split(","), task_manager=TaskManager(include_path=str(a.tasks_dir)),
                                  log_samples=True, limit=a.limit, num_fewshot=0)
    eval_s = time.perf_counter() - t1
    samples = []
    for task, rows in out["samples"].items():
        for row in rows:
            lls = [float(r[0]) for r in row["filtered_resps"]]
            samples.append({"question_id": row["doc"]["question_id"], "ordering": row["doc"]["ordering"],
                            "order": row["doc"]["order"], "gold": row["doc"]["gold"], "logprobs": lls})
    a.out.write_text(json.dumps({"load_s": load_s, "eval_s": eval_s, "lm_eval_version": lm_eval.__version__,
                                 "samples": samples}))


# --- reading each contender's choices -------------------------------------------------------------------

def mobeval_samples(run_dir: Path) -> list[dict]:
    out = []
    for line in (run_dir / "samples.jsonl").read_text().splitlines():
        s = json.loads(line)
        out.append({"question_id": s["question_id"], "ordering": s["ordering"], "order": s["order"],
                    "gold": None if s["answer"] is None else s["order"].index(s["answer"]),
                    "logprobs": s["logprobs"]})
    return out


def choice(s: dict) -> int:
    """The underlying option chosen (argmax position mapped back through the order)."""
    lp = s["logprobs"]
    return s["order"][max(range(len(lp)), key=lp.__getitem__)]


def accuracy(samples: list[dict]) -> float:
    return statistics.mean(choice(s) == s["order"][s["gold"]] for s in samples)


def compare(a: list[dict], b: list[dict]) -> dict:
    """Same choice share, and how far the option log-probabilities are apart, over the items both have.
    Where the choices differ, each side's margin between the two options at stake says why."""
    bk = {(s["question_id"], s["ordering"]): s for s in b}
    pairs = [(s, bk[(s["question_id"], s["ordering"])]) for s in a if (s["question_id"], s["ordering"]) in bk]
    same = [choice(x) == choice(y) for x, y in pairs]
    gaps = [abs(u - v) for x, y in pairs for u, v in zip(x["logprobs"], y["logprobs"])]
    margins = []
    for (x, y), ok in zip(pairs, same):
        if not ok:
            px, py = x["order"].index(choice(x)), x["order"].index(choice(y))
            margins.append(max(x["logprobs"][px] - x["logprobs"][py], y["logprobs"][py] - y["logprobs"][px]))
    return {"items": len(pairs), "same_choice": statistics.mean(same) if same else None,
            "max_logprob_gap": max(gaps) if gaps else None,
            "mean_logprob_gap": statistics.mean(gaps) if gaps else None,
            "disagreements": len(margins),
            "median_margin_where_they_differ": statistics.median(margins) if margins else None}


# --- the contenders ---------------------------------------------------------------------------------------

def mobeval_contender(runner: str, spec: str, settings: dict, args, work: Path) -> dict:
    from mobeval.text.models import resolve

    out = work / f"mobeval-{runner}-{spec}"
    cmd = [sys.executable, "-m", "mobeval", "run", "--bench", settings["bench"], "--orderings", spec,
           "--output-dir", str(out), "--idle-seconds", "0", "-q"]
    if "data" in settings:
        cmd += ["--data", settings["data"], "--subjects", ",".join(settings["subjects"])]
    if args.limit:
        cmd += ["--limit", str(args.limit)]
    server_model = None
    if runner == "openai":
        cmd += ["--runner", "openai", "--endpoint", "{base}", "--concurrency", "1"]
        server_model = resolve("smollm2-135m")[1]
    else:  # the server is given the threads (run_measured); --threads with --runner openai is an error
        cmd += ["--runner", runner, "--threads", str(args.threads)]
    m = run_measured(cmd, work / f"mobeval-{runner}-{spec}.log", server_model=server_model, threads=args.threads)
    run_dir = next(out.iterdir())
    result = json.loads((run_dir / "result.json").read_text())
    perf = result["performance"]
    load = perf["model_load_time"]["value"] or 0.0  # seconds
    if m["server_start_s"] is not None:
        load += m["server_start_s"]
    return {**m, "load_s": load, "samples": mobeval_samples(run_dir),
            "evaluated_tokens": perf.get("evaluated_tokens", {}).get("value"),
            "prompt_tokens": perf.get("prompt_tokens", {}).get("value")}


def lm_eval_contender(backend: str, spec: str, items: list[dict], delimiter: str, args, work: Path) -> dict:
    from mobeval.text.models import resolve

    gguf = resolve("smollm2-135m")[1]
    tasks_dir = work / f"tasks-{backend}-{spec}"
    tasks_dir.mkdir()
    names = write_tasks(items, delimiter, tasks_dir, spec.replace(":", "_"))
    out = work / f"lm-eval-{backend}-{spec}.json"
    cmd = [sys.executable, __file__, "_lm_eval", "--backend", backend, "--tasks-dir", str(tasks_dir),
           "--tasks", ",".join(names), "--gguf", str(gguf), "--batch-size", str(args.batch_size),
           "--threads", str(args.threads), "--out", str(out)]
    if backend == "gguf":
        cmd += ["--base-url", "{root}", "--limit", str(args.gguf_slice)]
    m = run_measured(cmd, work / f"lm-eval-{backend}-{spec}.log", timeout_s=args.gguf_cap if backend == "gguf" else None,
                     server_model=gguf if backend == "gguf" else None, threads=args.threads)
    if m["timed_out"]:
        return {**m, "load_s": None, "samples": [], "valid": False,
                "why_invalid": f"did not finish {args.gguf_slice} questions in {args.gguf_cap} s"}
    w = json.loads(out.read_text())
    load = w["load_s"] + (m["server_start_s"] or 0.0)
    degenerate = sum(len(set(s["logprobs"])) == 1 for s in w["samples"])
    res = {**m, "load_s": load, "eval_s": w["eval_s"], "samples": w["samples"], "lm_eval_version": w["lm_eval_version"],
           "valid": True, "loglikelihood_requests": sum(len(s["logprobs"]) for s in w["samples"])}
    if w["samples"] and degenerate == len(w["samples"]):
        res["valid"] = False
        res["why_invalid"] = (f"degenerate log-likelihoods: every option of all {degenerate} items scored "
                              f"{w['samples'][0]['logprobs'][0]}")
    return res


# --- the report -------------------------------------------------------------------------------------------

def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "_lm_eval":
        lm_eval_worker(sys.argv[2:])
        return
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--subject", default="marketing")
    ap.add_argument("--runners", default="llama.cpp,transformers,openai")
    ap.add_argument("--orderings", default="original,cyclic")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch-size", type=int, default=8, help="lm-eval hf batch size")
    ap.add_argument("--limit", type=int, help="a stratified sample of N questions (quick tries)")
    ap.add_argument("--gguf-slice", type=int, default=5, help="questions for lm-eval's gguf backend (0: skip)")
    ap.add_argument("--gguf-cap", type=float, default=600, help="seconds for lm-eval's gguf backend")
    ap.add_argument("--json", type=Path, default=ROOT / "bench/results/peer_lm_eval.json")
    args = ap.parse_args()
    try:
        import lm_eval.evaluator  # noqa: F401
    except ImportError:
        sys.exit("lm-evaluation-harness is not installed: pip install -e '.[bench]'")
    except TypeError as exc:  # typing_extensions older than lm-eval needs (TypedDict's extra_items)
        from importlib.metadata import version

        sys.exit(f"lm-eval cannot be imported here ({exc}): it needs typing-extensions 4.13 or newer, and this venv "
                 f"has {version('typing_extensions')}, as a venv with the vision extra "
                 "does (LiteRT's converter pins it below 4.13 through xdsl). Run this bench in a venv of its "
                 "own: python3 -m venv .venv-bench && .venv-bench/bin/pip install -e '.[bench]'")

    settings = bench_settings(args)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        for spec in args.orderings.split(","):
            items, delimiter = build_items(settings, spec, args.limit)
            questions = len({it["question_id"] for it in items})
            contenders = [(f"mobeval {r}", lambda r=r: mobeval_contender(r, spec, settings, args, work))
                          for r in args.runners.split(",")]
            contenders.append(("lm-eval hf", lambda: lm_eval_contender("hf", spec, items, delimiter, args, work)))
            if spec == "original" and args.gguf_slice:
                contenders.append(("lm-eval gguf", lambda: lm_eval_contender("gguf", spec, items, delimiter, args, work)))
            for name, fn in contenders:
                print(f"[{spec}] {name} ...", file=sys.stderr, flush=True)
                r = fn()
                r.update(contender=name, orderings=spec, questions=len({s["question_id"] for s in r["samples"]}),
                         items=len(r["samples"]))
                r["items_per_s"] = r["items"] / r["wall_s"] if r["items"] else None
                r["accuracy"] = accuracy(r["samples"]) if r["samples"] and r["samples"][0]["gold"] is not None else None
                rows.append(r)
                print(f"[{spec}] {name}: {r['wall_s']:.1f} s, {r['peak_rss_mib']:.0f} MiB", file=sys.stderr, flush=True)
            hf = next(r for r in rows if r["orderings"] == spec and r["contender"] == "lm-eval hf")
            for r in rows:
                if r["orderings"] == spec and r is not hf:
                    r["vs_lm_eval_hf"] = compare(r["samples"], hf["samples"])
            assert questions == hf["questions"]

    report = summarize(rows)
    print_table(rows, report)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    from mobeval.measure.environment import environment

    for r in rows:
        r.pop("samples")
    args.json.write_text(json.dumps({"settings": settings, "args": {k: str(v) for k, v in vars(args).items()},
                                     "rows": rows, "goals": report, "environment": environment()},
                                    indent=2, default=str) + "\n")


def summarize(rows: list[dict]) -> list[dict]:
    """Issue 5's goals as ratios, from this run's rows."""
    def get(name, spec):
        return next((r for r in rows if r["contender"] == name and r["orderings"] == spec), None)

    goals = []
    mob = lambda spec: [r for r in rows if r["contender"].startswith("mobeval") and r["orderings"] == spec]
    for spec, bar, what in (("cyclic", 0.5, "4 cyclic orderings: fastest mobeval wall / lm-eval hf wall"),
                            ("original", 0.75, "one ordering: fastest mobeval wall / lm-eval hf wall")):
        hf, ms = get("lm-eval hf", spec), mob(spec)
        if hf and ms:
            best = min(ms, key=lambda r: r["wall_s"])
            goals.append({"goal": what, "value": best["wall_s"] / hf["wall_s"], "bar": f"<= {bar}",
                          "met": best["wall_s"] / hf["wall_s"] <= bar, "fastest": best["contender"]})
    for runner in ("llama.cpp", "transformers"):
        o, c = get(f"mobeval {runner}", "original"), get(f"mobeval {runner}", "cyclic")
        if o and c:
            v = c["wall_s"] / o["wall_s"]
            goals.append({"goal": f"mobeval {runner}: 4 cyclic orderings wall / one ordering wall", "value": v,
                          "bar": "<= 2.6", "met": v <= 2.6})
    for spec in ("cyclic", "original"):
        m, hf = get("mobeval llama.cpp", spec), get("lm-eval hf", spec)
        if m and hf:
            v = m["peak_rss_mib"] / hf["peak_rss_mib"]
            goals.append({"goal": f"peak memory ({spec}): mobeval llama.cpp / lm-eval hf", "value": v,
                          "bar": "<= 0.5", "met": v <= 0.5})
            if m["accuracy"] is not None:
                d = abs(m["accuracy"] - hf["accuracy"]) * 100
                goals.append({"goal": f"accuracy gap ({spec}), points: mobeval llama.cpp vs lm-eval hf", "value": d,
                              "bar": "<= 2", "met": d <= 2})
            s = m["vs_lm_eval_hf"]["same_choice"]
            goals.append({"goal": f"same choice ({spec}): mobeval llama.cpp vs lm-eval hf", "value": s,
                          "bar": ">= 0.9", "met": s >= 0.9})
    return goals


def print_table(rows: list[dict], goals: list[dict]) -> None:
    head = (f"{'orderings':<9} {'contender':<20} {'items':>5} {'wall s':>7} {'load s':>7} {'items/s':>7} "
            f"{'peak MiB':>8} {'accuracy':>8} {'same as hf':>10} {'max |dlp|':>9}  note")
    print(head)
    for r in rows:
        v = r.get("vs_lm_eval_hf") or {}
        fmt = lambda x, f: "-" if x is None else format(x, f)
        note = "" if r.get("valid", True) else "INVALID: " + r["why_invalid"]
        print(f"{r['orderings']:<9} {r['contender']:<20} {r['items']:>5} {r['wall_s']:>7.1f} {fmt(r['load_s'], '7.1f'):>7} "
              f"{fmt(r['items_per_s'], '7.2f'):>7} {r['peak_rss_mib']:>8.0f} {fmt(r['accuracy'], '8.1%'):>8} "
              f"{fmt(v.get('same_choice'), '10.1%'):>10} {fmt(v.get('max_logprob_gap'), '9.3f'):>9}  {note}")
    print()
    for g in goals:
        print(f"{g['goal']:<70} {g['value']:>7.3f}  bar {g['bar']:<7} {'met' if g['met'] else 'NOT MET'}")


if __name__ == "__main__":
    main()
