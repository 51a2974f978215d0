"""Is the llama.cpp in this environment safe to run on this CPU?

llama-cpp-python builds llama.cpp from source with `-march=native`, so a build carries the code paths of
the CPU it was built on. Two kinds are known to kill the process:

- `missing-isa`: the build uses an instruction set this CPU lacks (a wheel built on one machine and
  installed on another through a shared pip cache or image: AVX-512 on an AVX2-only CPU).
- `amx`: AMX compiled in, on a CPU that has AMX. ggml's AMX matrix multiply (used only for weights placed in
  its AMX "extra buffer type") dies at the first batched matrix multiply on some VMs: SIGILL in
  ggml-org/llama.cpp#26954, SIGSEGV (a general-protection fault in libggml-cpu) on the Xeon VM this guard
  was checked on.

Where a hazard is found, a probe loads the model in a child process and evaluates a batch of tokens; a
child killed by a signal is the crash the parent would have died of. AMX is reached only through the
extra buffer types, so a build whose probe dies with them runs without them (`use_extra_bufts=False`:
no AMX, no weight repacking), which keeps every other native kernel (AVX2, AVX-512). Only when that dies
too does the run stop, with the command that rebuilds llama-cpp-python safely. Verdicts are cached per
(library files, CPU), so the probe costs one model load once.

`MOBEVAL_LLAMA_PROBE`: `auto` (default: probe on a known hazard), `always` (probe every build once),
`off` (never probe). `MOBEVAL_LLAMA_FALLBACK=off`: never run without extra buffer types; a probe that dies
stops the run with the rebuild command (for runs that must measure the build as it is).
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import signal
import subprocess
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

from mobeval.core.cachefile import read_json, write_json
from mobeval.measure.environment import cpu_flags
from mobeval.core.errors import RunnerError

# llama.cpp system-info feature -> the /proc/cpuinfo flag a CPU must have to run that code (x86; ARM
# features are detected at run time by ggml and need no entry).
ISA_FLAGS = {
    "SSE3": "pni", "SSSE3": "ssse3", "AVX": "avx", "AVX2": "avx2", "AVX_VNNI": "avx_vnni", "F16C": "f16c",
    "FMA": "fma", "BMI2": "bmi2", "AVX512": "avx512f", "AVX512_VBMI": "avx512vbmi",
    "AVX512_VNNI": "avx512_vnni", "AVX512_BF16": "avx512_bf16", "AMX_INT8": "amx_int8",
}
AMX_CPU_FLAGS = ("amx_tile", "amx_int8", "amx_bf16")
PROBE_TOKENS = 32  # a batched prompt: the matrix multiply scoring uses (a single token takes another path)
PROBE_TIMEOUT_S = 300.0
LLAMA_CPP_VERSION = "0.3.36"
NO_AMX_FLAGS = "-mno-amx-tile -mno-amx-int8 -mno-amx-bf16"


def parse_system_info(text: str) -> dict[str, str]:
    """`llama_print_system_info()` as {feature: value}: "CPU : SSE3 = 1 | AVX2 = 1 | ..." -> {"SSE3": "1", ...}.
    Section labels ("CPU :") are dropped; a feature listed by several backends keeps its first value."""
    features: dict[str, str] = {}
    for part in text.split("|"):
        if "=" not in part:
            continue
        key, value = part.rsplit("=", 1)
        key = key.split(":")[-1].strip()
        if key and key not in features:
            features[key] = value.strip()
    return features


@dataclass(frozen=True)
class Hazard:
    kind: str  # "missing-isa" | "amx" | "requested" (MOBEVAL_LLAMA_PROBE=always)
    detail: str


def hazards(system_info: str, flags: set[str]) -> list[Hazard]:
    """Code paths in this build known to crash on a CPU with these flags. No flags known (not Linux, not
    x86): nothing can be said, so nothing is reported."""
    if not flags or platform.machine().lower() not in ("x86_64", "amd64", "i686", "i386"):
        return []
    features = parse_system_info(system_info)
    on = {k for k, v in features.items() if v == "1"}
    found = []
    missing = sorted(k for k in on if k in ISA_FLAGS and k != "AMX_INT8" and ISA_FLAGS[k] not in flags)
    if missing:
        found.append(Hazard("missing-isa", f"built with {', '.join(missing)}, which this CPU lacks "
                                           f"({', '.join(ISA_FLAGS[k] for k in missing)} not in its flags)"))
    if "AMX_INT8" in on:
        if "amx_int8" in flags:
            found.append(Hazard("amx", "built with AMX_INT8 on a CPU with AMX: ggml's AMX matrix multiply is "
                                       "known to kill the process on some machines (SIGILL in llama.cpp#26954, "
                                       "SIGSEGV on others)"))
        else:
            found.append(Hazard("missing-isa", "built with AMX_INT8, which this CPU lacks"))
    return found


@dataclass(frozen=True)
class ProbeOutcome:
    ok: bool
    returncode: int
    signal: str | None  # "SIGILL", "SIGSEGV", ... where the child was killed by a signal
    detail: str  # the tail of the child's stderr, or its report (stdout) when it passed

    @property
    def crashed(self) -> bool:
        """Killed by a signal, or hung: what a crashing build does. A child that exits with an error (a file
        llama.cpp cannot load) did not crash; the load in the caller reports that error itself."""
        return not self.ok and (self.signal is not None or self.returncode == -1)

    def describe(self) -> str:
        if self.ok:
            return "passed"
        if self.signal:
            return f"died with {self.signal}" + (" (illegal instruction)" if self.signal == "SIGILL" else "")
        return f"exited with status {self.returncode}: {self.detail}"


def run_probe(argv: list[str], timeout_s: float = PROBE_TIMEOUT_S) -> ProbeOutcome:
    """Run `argv` in a child process; a death by signal is reported, never propagated."""
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout_s,
                              env={**os.environ, "MOBEVAL_LLAMA_PROBE": "off"})
    except subprocess.TimeoutExpired:
        return ProbeOutcome(False, -1, None, f"no answer in {timeout_s:.0f} s")
    if done.returncode < 0:
        try:
            name = signal.Signals(-done.returncode).name
        except ValueError:
            name = f"signal {-done.returncode}"
        return ProbeOutcome(False, done.returncode, name, done.stderr.strip()[-500:])
    if done.returncode != 0:
        return ProbeOutcome(False, done.returncode, None, done.stderr.strip()[-500:])
    return ProbeOutcome(True, 0, None, done.stdout.strip())  # whole: the child's report


def probe_argv(model_path: Path, n_threads: int, use_extra_bufts: bool) -> list[str]:
    return [sys.executable, "-m", "mobeval.text.runners.llamacpp_probe", str(model_path), "--threads", str(n_threads),
            "--tokens", str(PROBE_TOKENS)] + ([] if use_extra_bufts else ["--no-extra-bufts"])


def rebuild_command(kinds: set[str]) -> str:
    """The command that rebuilds llama-cpp-python without the crashing code, bypassing pip's cached wheel
    (pip reuses a wheel it built even when CMAKE_ARGS changed)."""
    if "missing-isa" in kinds:
        cmake = "-DGGML_NATIVE=ON"  # built for another CPU: build for this one
    else:
        cmake = f"-DCMAKE_C_FLAGS='{NO_AMX_FLAGS}' -DCMAKE_CXX_FLAGS='{NO_AMX_FLAGS}'"
    return (f'CMAKE_ARGS="{cmake}" pip install --force-reinstall --no-deps --no-cache-dir '
            f"--no-binary llama-cpp-python llama-cpp-python=={LLAMA_CPP_VERSION}")


@dataclass(frozen=True)
class BuildVerdict:
    """What the guard decided for this build on this CPU, recorded in the runner's settings."""

    use_extra_bufts: bool
    hazards: tuple[str, ...] = ()
    probes: tuple[str, ...] = ()  # "extra buffer types on: died with SIGSEGV", ...
    note: str | None = None
    conclusive: bool = True  # False: the probe failed without crashing (a bad file); not cached


def _library_fingerprint(llama_cpp_module) -> str:
    lib_dir = Path(llama_cpp_module.__file__).parent / "lib"
    h = hashlib.sha256()
    for f in sorted(lib_dir.glob("*.so*")) + sorted(lib_dir.glob("*.dylib")) + sorted(lib_dir.glob("*.dll")):
        st = f.stat()
        h.update(f"{f.name}:{st.st_size}:{st.st_mtime_ns}\n".encode())
    return h.hexdigest()[:16]


def _cache_file() -> Path:
    from mobeval.core.paths import cache_dir

    return cache_dir() / "llama_probe.json"


Probe = Callable[[bool], ProbeOutcome]  # use_extra_bufts -> outcome


def decide(found: list[Hazard], probe: Probe, fallback: bool = True) -> BuildVerdict:
    """Probe as the hazards require; the settings to run with, or RunnerError with the rebuild command.
    `fallback=False`: no second probe without extra buffer types."""
    if not found:
        return BuildVerdict(use_extra_bufts=True)
    kinds = {h.kind for h in found}
    names = tuple(f"{h.kind}: {h.detail}" for h in found)
    first = probe(True)
    probes = [f"extra buffer types on: {first.describe()}"]
    if first.ok:
        return BuildVerdict(True, names, tuple(probes))
    if not first.crashed:
        return BuildVerdict(True, names, tuple(probes), conclusive=False)
    if fallback and "missing-isa" not in kinds:  # AMX (or an unexplained crash) lives in the extra buffer types
        second = probe(False)
        probes.append(f"extra buffer types off: {second.describe()}")
        if second.ok:
            return BuildVerdict(False, names, tuple(probes),
                                note="llama.cpp's extra buffer types are off (no AMX, no weight repacking): "
                                     "with them, a probe " + first.describe())
    raise RunnerError(
        "llama.cpp cannot run on this CPU: a probe that loaded the model and evaluated "
        f"{PROBE_TOKENS} tokens in a child process {first.describe()}.\n"
        + "".join(f"  {n}\n" for n in names)
        + "".join(f"  probe, {p}\n" for p in probes)
        + ("" if fallback else "  (MOBEVAL_LLAMA_FALLBACK=off: not retried without extra buffer types)\n")
        + "Rebuild llama-cpp-python for this CPU (about 6-12 minutes; --no-cache-dir keeps pip from reusing "
          "the wheel it built before):\n  " + rebuild_command(kinds)
    )


def check_build(model_path: Path, n_threads: int, probe: Probe | None = None) -> BuildVerdict:
    """The guard: hazards of the installed llama.cpp on this CPU, probed in a child where needed."""
    import llama_cpp

    mode = os.environ.get("MOBEVAL_LLAMA_PROBE", "auto").lower()
    if mode not in ("auto", "always", "off"):
        raise RunnerError(f"MOBEVAL_LLAMA_PROBE={mode!r}: expected auto, always or off")
    fallback = os.environ.get("MOBEVAL_LLAMA_FALLBACK", "on").lower()
    if fallback not in ("on", "off"):
        raise RunnerError(f"MOBEVAL_LLAMA_FALLBACK={fallback!r}: expected on or off")
    if mode == "off" or not Path(model_path).is_file():  # no file: the load reports it
        return BuildVerdict(use_extra_bufts=True)
    info = llama_cpp.llama_print_system_info().decode("utf-8", "replace")
    flags = cpu_flags()
    found = hazards(info, flags)
    if mode == "always" and not found:
        found = [Hazard("requested", "MOBEVAL_LLAMA_PROBE=always")]
    if not found:
        return BuildVerdict(use_extra_bufts=True)
    # per model too: which weights go to the AMX buffers depends on their quantization
    model = Path(model_path)
    key = hashlib.sha256(json.dumps([_library_fingerprint(llama_cpp), sorted(flags), info, str(model.resolve()),
                                     model.stat().st_size, [asdict(h) for h in found], fallback])
                         .encode()).hexdigest()[:24]
    cached = read_json(_cache_file()).get(key)
    if cached and probe is None:
        return BuildVerdict(**{k: tuple(v) if isinstance(v, list) else v for k, v in cached.items()})
    probe = probe or (lambda extra: run_probe(probe_argv(model_path, n_threads, extra)))
    # a RunnerError is not cached: a rebuilt library changes the key anyway
    verdict = decide(found, probe, fallback == "on")
    if verdict.conclusive:
        write_json(_cache_file(), {**read_json(_cache_file()), key: asdict(verdict)})
    return verdict


def _llama_system_info() -> str | None:
    try:
        import llama_cpp

        return llama_cpp.llama_print_system_info().decode("utf-8", "replace").strip()
    except Exception:  # not installed, or an older binding
        return None


def environment_fields() -> dict:
    """This llama.cpp build as result.json's environment records it: its system info, the features it
    was built with, and the code paths known to crash on this CPU (the build guard probes these)."""
    info = _llama_system_info()
    return {
        "llama_cpp_system_info": info,
        "llama_cpp_features": None if info is None else parse_system_info(info),
        "llama_cpp_hazards": None if info is None else [f"{h.kind}: {h.detail}" for h in hazards(info, cpu_flags())],
    }
