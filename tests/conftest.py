import os
from pathlib import Path

import pytest

# The suite never reaches a model hub: everything runs offline on the bundled model.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
# The CLI's tables wrap at the terminal's width. An exported COLUMNS is read once, when the console is made,
# and would fix every table's width; without it rich reads COLUMNS at each print (80 where unset), so a test
# can set the width it reads its tables at (CliRunner's env), whatever the shell exports.
os.environ.pop("COLUMNS", None)

SHARED_MMLU = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "mmlu"


@pytest.fixture(scope="session")
def smollm2_path() -> Path:
    from mobeval.text.models import resolve

    return resolve("smollm2-135m", fetch=False)[1]


@pytest.fixture(scope="session")
def runner(smollm2_path):
    from mobeval.text.runners.llamacpp import LlamaCppRunner

    r = LlamaCppRunner(smollm2_path, n_ctx=1024)
    yield r
    r.close()


@pytest.fixture(autouse=True, scope="session")
def _isolated_cache(tmp_path_factory):
    # sha256 cache, assembled models and dequantized weights go to a per-session folder, not the user's
    # home: session-scoped, so that module- and session-scoped fixtures (a loaded runner) see it too.
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MOBEVAL_CACHE", str(tmp_path_factory.getbasetemp() / "mobeval-cache"))
        yield


def energy_counter_here() -> bool:
    """Whether this machine has an energy counter mobeval reads (RAPL, NVML): where it has, results carry joules
    and the tests that expect 'unavailable' expect readings instead."""
    from mobeval.measure.energy import energy_meters

    return any(m.source != "unavailable" for m in energy_meters("auto"))


@pytest.fixture(autouse=True, scope="session")
def _every_result_validates_against_the_shipped_schema():
    """Every result.json the suite writes, in this process and in every Python process it starts, is checked as
    it is written against the JSON Schemas the package ships (tests/schema_hook/result_schema_check.py)."""
    pytest.importorskip("jsonschema")
    import sys

    hook = str(Path(__file__).resolve().parent / "schema_hook")
    sys.path.insert(0, hook)
    from result_schema_check import install

    from mobeval.results.store import RunDir

    original = RunDir.write_result
    install()
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PYTHONPATH", os.pathsep.join(p for p in (hook, os.environ.get("PYTHONPATH", "")) if p))
        yield
    RunDir.write_result = original
