"""In-process llama.cpp against the same GGUF behind a server, through `--runner openai`: same choices?
How far apart are the letter log-probabilities, and how fast is the server by its own clock?

    python bench/server_agreement.py [--llama-server PATH] [--server-args "--flash-attn off"] [--limit 20]

Without --llama-server the server is llama-cpp-python's; with it, llama.cpp's own llama-server. Runs
`mobeval run` on the bundled questions (a stratified --limit, 4 cyclic orderings) both ways, prints a
table and writes JSON (default bench/results/server_agreement.json). Installs nothing.
"""

from __future__ import annotations

import argparse
import json
import shlex
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from mobeval.text.runners.local_server import start_server
from mobeval.text.models import resolve

ROOT = Path(__file__).resolve().parents[1]


def run(args: list[str], out: Path) -> Path:
    subprocess.run([sys.executable, "-m", "mobeval", "run", *args, "--output-dir", str(out), "-q"], check=True,
                   stdout=subprocess.DEVNULL)
    return next(out.iterdir())


def samples(run_dir: Path) -> list[dict]:
    return [json.loads(line) for line in (run_dir / "samples.jsonl").read_text().splitlines()]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--llama-server", type=Path, help="llama-server binary (default: llama-cpp-python's server)")
    ap.add_argument("--server-args", default="", help="extra server arguments, as one string")
    ap.add_argument("--limit", type=int, default=20)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--json", type=Path, default=ROOT / "bench/results/server_agreement.json")
    a = ap.parse_args()
    _, model = resolve("smollm2-135m")
    common = ["--limit", str(a.limit), "--orderings", "cyclic", "--idle-seconds", "0"]  # the server has --threads
    work = Path(tempfile.mkdtemp(prefix="server-agreement-"))
    with start_server(model, work / "server.log", threads=a.threads, binary=a.llama_server,
                      extra_args=shlex.split(a.server_args)) as server:
        http = run(common + ["--runner", "openai", "--endpoint", server.base_url], work / "http")
    local = run(common + ["--threads", str(a.threads)], work / "local")
    pairs = list(zip(samples(http), samples(local)))
    gaps = [abs(x - y) for h, loc in pairs for x, y in zip(h["logprobs"], loc["logprobs"])]
    perf = json.loads((http / "result.json").read_text())["performance"]
    engine = perf.get("engine_prompt_tokens_per_s", {}).get("value")
    row = {"server": str(a.llama_server or "llama-cpp-python server"), "server_args": a.server_args,
           "prompts": len(pairs), "same_choice": sum(h["choice"] == loc["choice"] for h, loc in pairs) / len(pairs),
           "max_logprob_gap": max(gaps), "median_logprob_gap": statistics.median(gaps),
           "client_evaluated_tokens_per_s": perf["evaluated_tokens_per_s"]["value"],
           "engine_prompt_tokens_per_s": engine}
    print(f"server: {row['server']} {a.server_args}".rstrip())
    print(f"prompts {row['prompts']}  same choice {row['same_choice']:.1%}  letter log-prob gap max "
          f"{row['max_logprob_gap']:.2g} median {row['median_logprob_gap']:.2g}")
    print(f"evaluated tokens/s: client side {row['client_evaluated_tokens_per_s']:.1f}, server's own clock "
          + ("not reported" if engine is None else f"{engine:.1f}"))
    a.json.parent.mkdir(parents=True, exist_ok=True)
    a.json.write_text(json.dumps(row, indent=1) + "\n")


if __name__ == "__main__":
    main()
