"""Why torch eager is slow here: EfficientNet-Lite0's per-image latency in torch (eager, and a frozen TorchScript
trace for comparison) against ONNX Runtime on the same weights and photo, by threads, OMP_WAIT_POLICY and
channels_last, on a quiet machine and on the same machine kept busy.

    python bench/torch_eager_latency.py [--iters 30] [--warmup 5] [--out bench/results/torch_eager_latency.json]

One real photo (the first of the bundled sample photos), preprocessed as the model was trained, batch 1.
Each configuration runs alone in a fresh subprocess (OMP_WAIT_POLICY is read when torch's OpenMP starts),
one after another, through mobeval's own runners (TorchClassifier, OnnxRuntimeClassifier): `--warmup`
untimed images, then `--iters` timed ones (fewer if they pass --max-config-s, at least 3); median and p90
of the per-image wall time. Three machine states, in this order:

- quiet: nothing else of ours running;
- python-loop: a pure-Python busy loop in a background process takes one core (a loaded machine);
- torch-neighbour: a background process runs the same model in torch eager at 2 threads in a loop (another
  user of this tool, or of torch, on the same machine).
The loaded states run the configurations they change and their references, not all.

A few configurations also record torch.profiler's operators for one image (after the timed ones), and ONNX
Runtime's optimised graph, so the cost is shown by operator, not guessed.

The 1-minute load average is printed first; above 0.7 the script waits (up to --quiet-wait seconds) and,
if the machine stays busy, runs at most --busy-iters iterations and marks the figures as taken under load.
Before each configuration it records the load average and the idle fraction of all cores over a quarter
of a second (the load average lags by a minute and counts this script's own previous configuration; the idle
fraction does not): a row is starred when others were using the CPU. Prints a table, writes JSON.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

from mobeval.measure.stats import percentile

MODEL = "efficientnet-lite0"
LOAD_LIMIT = 0.7
MIN_ITERS = 3
OTHERS_MARGIN = 0.15  # idle this much below the expected before a configuration: other processes were running


LOADS = ("quiet", "python-loop", "torch-neighbour")


@dataclass(frozen=True)
class Config:
    runtime: str  # torch | onnxruntime
    mode: str  # eager | jit-frozen (torch); default (onnxruntime)
    threads: int
    wait_policy: str = "default"  # OMP_WAIT_POLICY in the child's environment: default (unset) | PASSIVE
    channels_last: bool = False
    load: str = "quiet"  # one of LOADS: what else runs meanwhile
    profile: bool = False  # also record torch.profiler's operators (torch) or the optimised graph (ORT)

    @property
    def label(self) -> str:
        if self.runtime == "onnxruntime":
            return f"ort t{self.threads}"
        return (f"torch {self.mode} t{self.threads} {self.wait_policy}"
                + (" channels_last" if self.channels_last else ""))


def configs(load: str) -> list[Config]:
    """What runs under each load. OMP_WAIT_POLICY at one thread is a control: one thread has no barrier."""
    torch = [
        Config("torch", "eager", 1),
        Config("torch", "eager", 1, channels_last=True),
        Config("torch", "eager", 1, "PASSIVE"),
        Config("torch", "eager", 2),
        Config("torch", "eager", 2, channels_last=True),
        Config("torch", "eager", 2, "PASSIVE"),
        Config("torch", "eager", 2, "PASSIVE", channels_last=True),
        Config("torch", "jit-frozen", 1),
        Config("torch", "jit-frozen", 2),
    ]
    ort = [Config("onnxruntime", "default", 1), Config("onnxruntime", "default", 2)]
    if load == "python-loop":  # the configurations a busy core changes, and their references
        torch = [torch[i] for i in (0, 3, 4, 5, 8)]
    elif load == "torch-neighbour":
        torch, ort = [torch[3], torch[5]], ort[1:]
    profiled = {("quiet", "eager", 1, "default", False), ("quiet", "eager", 1, "default", True),
                ("quiet", "eager", 2, "default", False), ("quiet", "default", 1, "default", False),
                ("python-loop", "eager", 2, "default", False), ("python-loop", "eager", 2, "PASSIVE", False)}
    return [Config(**{**asdict(c), "load": load,
                      "profile": (load, c.mode, c.threads, c.wait_policy, c.channels_last) in profiled})
            for c in torch + ort]


# --- the child: one configuration in its own process ----------------------------------------------------

def photo_input():
    """The first bundled sample photo as EfficientNet-Lite0's input batch of one, and its id."""
    from mobeval.vision.benchmarks.sample_photos import load_sample_photos
    from mobeval.vision.models.registry import resolve
    from mobeval.vision.task.images import open_rgb
    from mobeval.vision.task.preprocess import stack

    item = load_sample_photos().items[0]
    model = resolve(MODEL)
    return model, stack([model.preprocess.apply(open_rgb(item.path))]), item.id


class JitFrozen:
    """torch.jit.trace + torch.jit.freeze of the same module (folds BatchNorm into the convolutions)."""

    def __init__(self, model, threads: int, example):
        import torch

        from mobeval.vision.models.registry import load_torch

        torch.set_num_threads(threads)
        with torch.no_grad():
            self._module = torch.jit.freeze(torch.jit.trace(load_torch(model), torch.from_numpy(example)))
        self._torch = torch
        self.settings = {"mode": "jit-frozen", "threads": torch.get_num_threads()}

    def classify(self, batch):
        with self._torch.inference_mode():
            return self._module(self._torch.from_numpy(batch)).numpy()


def make_classifier(c: Config, model, example):
    if c.runtime == "onnxruntime":
        from mobeval.vision.runners.onnxruntime_classifier import OnnxRuntimeClassifier

        clf = OnnxRuntimeClassifier(model, threads=c.threads)
        return clf, clf.info.settings
    if c.mode == "jit-frozen":
        clf = JitFrozen(model, c.threads, example)
        return clf, clf.settings
    from mobeval.vision.runners.torch_classifier import TorchClassifier

    clf = TorchClassifier(model, threads=c.threads, channels_last=c.channels_last)
    return clf, clf.info.settings


def conv_kind(weight_shape: list[int]) -> str:
    """A convolution's kind from its weight shape [out, in/groups, kh, kw]."""
    if weight_shape[2:] == [1, 1]:
        return "conv 1x1 (pointwise)"
    return "conv depthwise" if weight_shape[1] == 1 else "conv full (stem)"


# The model's layers as torch runs them, each one top-level operator (ReLU6 is hardtanh, the fork's
# static "same" padding an aten::pad before the convolution); any other top-level operator is "other".
LAYER_OPS = {"aten::batch_norm": "batch norm", "aten::hardtanh": "relu6 (hardtanh)",
             "aten::pad": "same padding (pad)", "aten::add": "residual add"}


SMALL_OP_US = 20


def torch_profile(clf, batch, top: int = 12) -> dict:
    """torch.profiler on one image: the top operators by self CPU time, the call count, and the time of
    each kind of layer (convolutions by kind from their weight shapes)."""
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU], record_shapes=True) as prof:
        clf.classify(batch)
    averages = sorted(prof.key_averages(), key=lambda e: e.self_cpu_time_total, reverse=True)
    total_us = sum(e.self_cpu_time_total for e in averages)
    layers: dict[str, dict] = {}
    for e in prof.events():
        if e.cpu_parent is not None:  # only operators called from Python (hardtanh calls hardtanh, ...)
            continue
        kind = conv_kind(e.input_shapes[1]) if e.name == "aten::conv2d" else LAYER_OPS.get(e.name, "other")
        if e.name.startswith("aten::"):
            entry = layers.setdefault(kind, {"calls": 0, "cpu_ms": 0.0})
            entry["calls"] += 1
            entry["cpu_ms"] += e.cpu_time_total / 1e3
    small = [e for e in averages if e.self_cpu_time_total < SMALL_OP_US * e.count]
    return {
        "self_cpu_total_ms": total_us / 1e3,
        "operator_calls": sum(e.count for e in averages),
        # allocations, views and dispatch wrappers: what per-operator overhead costs
        "small_ops": {"under_us_per_call": SMALL_OP_US, "calls": sum(e.count for e in small),
                      "self_cpu_ms": sum(e.self_cpu_time_total for e in small) / 1e3},
        "top_by_self_cpu": [
            {"op": e.key, "calls": e.count, "self_cpu_ms": e.self_cpu_time_total / 1e3,
             "share": e.self_cpu_time_total / total_us}
            for e in averages[:top]
        ],
        "by_layer_kind": dict(sorted(layers.items(), key=lambda kv: -kv[1]["cpu_ms"])),
    }


def ort_graph(model_path: str, threads: int) -> dict:
    """The operator counts of the graph ONNX Runtime runs after its optimisations, and of the file."""
    import collections
    import tempfile

    import onnx
    import onnxruntime as ort

    with tempfile.TemporaryDirectory() as tmp:
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.log_severity_level = 3  # its "hardware-specific graph" note on saving is expected
        options.optimized_model_filepath = str(Path(tmp) / "optimized.onnx")
        ort.InferenceSession(model_path, sess_options=options, providers=["CPUExecutionProvider"])
        optimized = onnx.load(options.optimized_model_filepath).graph.node
    original = [n for n in onnx.load(model_path).graph.node if n.op_type != "Constant"]
    return {"file_nodes": len(original), "file_ops": dict(collections.Counter(n.op_type for n in original)),
            "optimized_nodes": len(optimized),
            "optimized_ops": dict(collections.Counter(f"{n.domain}:{n.op_type}".lstrip(":") for n in optimized))}


def child(c: Config, iters: int, warmup: int, max_s: float) -> dict:
    t0 = time.perf_counter()
    model, batch, photo = photo_input()
    clf, settings = make_classifier(c, model, batch)
    load_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    for _ in range(warmup):
        logits = clf.classify(batch)
        if time.perf_counter() - t0 > max_s / 2:
            break
    times: list[float] = []
    t0 = time.perf_counter()
    while len(times) < iters and (len(times) < MIN_ITERS or time.perf_counter() - t0 < max_s):
        t = time.perf_counter()
        logits = clf.classify(batch)
        times.append(time.perf_counter() - t)
    result = {"photo": photo, "settings": settings, "load_s": load_s, "times_ms": [t * 1e3 for t in times],
              "top1": int(logits[0].argmax())}
    if c.runtime == "onnxruntime" and c.profile:
        result["graph"] = ort_graph(clf.info.model_file, c.threads)
    if c.runtime == "torch":
        import torch

        result["torch_threads"] = torch.get_num_threads()
        if c.profile:
            result["profile"] = torch_profile(clf, batch)
    return result


# --- the parent: machine state, subprocesses, table -------------------------------------------------------

def cpu_times() -> tuple[int, int]:
    """(idle, total) jiffies of all cores from /proc/stat."""
    fields = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    return fields[3] + fields[4], sum(fields)


def idle_fraction(seconds: float = 0.25) -> float:
    idle0, total0 = cpu_times()
    time.sleep(seconds)
    idle1, total1 = cpu_times()
    return (idle1 - idle0) / max(1, total1 - total0)


def machine() -> dict:
    lscpu = {}
    for line in subprocess.run(["lscpu"], check=True, capture_output=True, text=True).stdout.splitlines():
        key, _, value = line.partition(":")
        lscpu[key.strip()] = value.strip()
    import onnxruntime
    import torch

    return {
        "cpu": lscpu.get("Model name"), "cpus": os.cpu_count(), "cores_per_socket": lscpu.get("Core(s) per socket"),
        "threads_per_core": lscpu.get("Thread(s) per core"), "hypervisor": lscpu.get("Hypervisor vendor"),
        "os": platform.platform(), "python": platform.python_version(), "torch": torch.__version__,
        "onnxruntime": onnxruntime.__version__, "torch_parallel": torch.__config__.parallel_info(),
    }


def wait_for_quiet(max_wait: float) -> tuple[bool, list[float]]:
    """Whether the 1-minute load average fell to LOAD_LIMIT or below within max_wait seconds; the readings."""
    readings = [os.getloadavg()[0]]
    print(f"load average (1 min) at start: {readings[0]:.2f}")
    deadline = time.monotonic() + max_wait
    while readings[-1] > LOAD_LIMIT and time.monotonic() < deadline:
        print(f"WARNING: load {readings[-1]:.2f} > {LOAD_LIMIT}: others are using the machine; waiting 30 s")
        time.sleep(30)
        readings.append(os.getloadavg()[0])
    return readings[-1] <= LOAD_LIMIT, readings


def neighbour() -> None:
    """The torch-neighbour load: torch eager at 2 threads on the photo in a loop, until terminated."""
    from mobeval.vision.runners.torch_classifier import TorchClassifier

    model, batch, _ = photo_input()
    clf = TorchClassifier(model, threads=2)
    clf.classify(batch)
    print("ready", flush=True)
    while True:
        clf.classify(batch)


LOAD_COMMANDS = {
    "python-loop": ["-c", "while True: pass"],
    "torch-neighbour": [str(Path(__file__).resolve()), "--neighbour"],
}


@contextlib.contextmanager
def background(load: str) -> Iterator[dict]:
    """The load's background process for the duration (none for quiet); what it was."""
    if load == "quiet":
        yield {"load": load, "process": None}
        return
    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    cmd = [sys.executable, *LOAD_COMMANDS[load]]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, text=True)
    try:
        if load == "torch-neighbour" and proc.stdout.readline().strip() != "ready":  # loaded and running
            raise SystemExit(f"the {load} background process failed to start: {' '.join(cmd)}")
        time.sleep(1.0)
        yield {"load": load, "process": " ".join(cmd[1:]), "pid": proc.pid}
    finally:
        proc.terminate()
        proc.wait()


def expected_idle(load: str) -> float | None:
    """The idle fraction expected before a configuration under this load; None: it takes every core."""
    return {"quiet": 1.0, "python-loop": 1 - 1 / os.cpu_count()}.get(load)


def run_config(c: Config, iters: int, warmup: int, max_s: float) -> dict:
    env = dict(os.environ)
    env.pop("OMP_WAIT_POLICY", None)
    if c.wait_policy != "default":
        env["OMP_WAIT_POLICY"] = c.wait_policy
    before = {"loadavg": os.getloadavg(), "idle_fraction": idle_fraction()}
    expected = expected_idle(c.load)
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", json.dumps(asdict(c)),
           "--iters", str(iters), "--warmup", str(warmup), "--max-config-s", str(max_s)]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{c.label}: the child failed:\n{done.stderr[-3000:]}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    times = result["times_ms"]
    others = None if expected is None else before["idle_fraction"] < expected - OTHERS_MARGIN
    return {"config": asdict(c), "label": c.label, "before": before, "others_active": others, **result,
            "n": len(times), "median_ms": statistics.median(times), "p90_ms": percentile(times, 90)}


def add_ratios(rows: list[dict]) -> None:
    """Each row's median over ONNX Runtime's at the same threads under the same load."""
    ort = {(r["config"]["threads"], r["config"]["load"]): r["median_ms"]
           for r in rows if r["config"]["runtime"] == "onnxruntime"}
    for r in rows:
        ref = ort.get((r["config"]["threads"], r["config"]["load"]))
        r["ratio_vs_ort"] = r["median_ms"] / ref if ref else None


def print_table(rows: list[dict]) -> None:
    print(f"{'load':<16}{'configuration':<38}{'n':>3}{'median ms':>10}{'p90 ms':>9}{'x ORT':>7}{'load1':>7}"
          f"{'idle':>6}")
    for r in rows:
        ratio = f"{r['ratio_vs_ort']:.1f}" if r["ratio_vs_ort"] else "-"
        print(f"{r['config']['load']:<16}{r['label']:<38}{r['n']:>3}{r['median_ms']:>10.1f}{r['p90_ms']:>9.1f}"
              f"{ratio:>7}{r['before']['loadavg'][0]:>7.2f}{r['before']['idle_fraction']:>6.0%}"
              + (" *" if r["others_active"] else ""))
    print("x ORT: median over ONNX Runtime's at the same threads under the same load; load1: 1-minute load "
          "average before the configuration; idle: all cores' idle fraction in the 0.25 s before it "
          "(*: below the expected, others were using the CPU)")


def print_profiles(rows: list[dict]) -> None:
    for r in rows:
        state = r["config"]["load"]
        if g := r.get("graph"):
            print(f"\nONNX Runtime's graph: {g['file_nodes']} nodes in the file (constants aside), "
                  f"{g['optimized_nodes']} after its optimisations: "
                  + ", ".join(f"{op} {n}" for op, n in sorted(g["optimized_ops"].items(), key=lambda kv: -kv[1])))
        if not (p := r.get("profile")):
            continue
        small = p["small_ops"]
        print(f"\nprofile, {state}, {r['label']}: {p['operator_calls']} operator calls, "
              f"self CPU {p['self_cpu_total_ms']:.1f} ms, of which {small['self_cpu_ms']:.1f} ms in "
              f"{small['calls']} calls of operators under {small['under_us_per_call']} us per call")
        for op in p["top_by_self_cpu"][:8]:
            print(f"  {op['op']:<32}{op['calls']:>5} calls{op['self_cpu_ms']:>9.1f} ms{op['share']:>6.0%}")
        print("  by layer kind: " + "; ".join(f"{k} {v['calls']}x {v['cpu_ms']:.1f} ms"
                                            for k, v in p["by_layer_kind"].items()))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--iters", type=int, default=30, help="timed images per configuration")
    ap.add_argument("--warmup", type=int, default=5, help="untimed images first")
    ap.add_argument("--max-config-s", type=float, default=8.0,
                    help="stop a configuration's timed images after this many seconds (at least 3 images)")
    ap.add_argument("--busy-iters", type=int, default=10, help="the most iterations if the machine stays busy")
    ap.add_argument("--quiet-wait", type=float, default=120, help="seconds to wait for a quiet machine")
    ap.add_argument("--out", type=Path, default=Path("bench/results/torch_eager_latency.json"))
    ap.add_argument("--child", help=argparse.SUPPRESS)
    ap.add_argument("--neighbour", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.neighbour:
        neighbour()
    if args.child:
        print(json.dumps(child(Config(**json.loads(args.child)), args.iters, args.warmup, args.max_config_s)))
        return

    from mobeval.vision.models.registry import onnx_file, resolve

    onnx_path = onnx_file(resolve(MODEL))  # the cached export, made now if missing, not inside a timed child
    quiet, readings = wait_for_quiet(args.quiet_wait)
    iters = args.iters if quiet else min(args.iters, args.busy_iters)
    if not quiet:
        print(f"WARNING: the machine stayed busy (load {readings[-1]:.2f}); {iters} iterations, figures taken "
              "under load")
    env = machine()
    print(f"{env['cpu']}, {env['cpus']} cores, torch {env['torch']}, onnxruntime {env['onnxruntime']}; "
          f"{MODEL}, batch 1, {args.warmup} warm-up + {iters} timed images per configuration "
          f"(at most {args.max_config_s:g} s of them)")
    started = time.time()
    rows, loads = [], []
    for load in LOADS:
        with background(load) as what:
            loads.append(what)
            rows += [run_config(c, iters, args.warmup, args.max_config_s) for c in configs(load)]
    add_ratios(rows)
    top1 = {r["top1"] for r in rows}
    report = {
        "machine": env, "model": MODEL, "onnx_file": str(onnx_path), "command": " ".join(sys.argv),
        "iters": iters, "warmup": args.warmup, "max_config_s": args.max_config_s,
        "quiet_at_start": quiet, "start_loadavg_readings": readings,
        "warning": None if quiet else f"1-minute load average above {LOAD_LIMIT} at start: taken under load",
        "loads": loads, "rows": rows, "top1_classes": sorted(top1), "seconds": time.time() - started,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print_table(rows)
    print_profiles(rows)
    print(f"\ntop-1 class of the photo: {sorted(top1)} ({'the same' if len(top1) == 1 else 'DIFFERS'} in every "
          f"configuration); {report['seconds']:.0f} s")
    if not quiet:
        print(f"WARNING: {report['warning']}")
    print(f"json: {args.out}")


if __name__ == "__main__":
    main()
