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
    """Every result.json the suite writes in this process is checked, as it is written, against the JSON
    Schemas the package ships (mobeval.results.schemas): the envelope, and the task section of its kind."""
    jsonschema = pytest.importorskip("jsonschema")
    from mobeval.results.schemas import schema
    from mobeval.results.store import RunDir

    def problems(doc: dict) -> list[str]:
        found = []
        for stem, part in (("result", doc), (f"task-{doc.get('kind')}", doc.get("task"))):
            s = schema(stem)
            if s is None:  # a kind a plugin adds: the envelope is still checked
                continue
            validator = jsonschema.Draft202012Validator(s)
            found += [f"{stem}: {'.'.join(map(str, e.absolute_path)) or '(top)'}: {e.message}"
                      for e in validator.iter_errors(part)]
        return found

    original = RunDir.write_result

    def write_result(self, result):
        original(self, result)
        import json

        found = problems(json.loads((self.path / "result.json").read_text(encoding="utf-8")))
        assert not found, f"{self.path / 'result.json'} does not validate against its shipped schema: {found[:5]}"

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(RunDir, "write_result", write_result)
        yield
