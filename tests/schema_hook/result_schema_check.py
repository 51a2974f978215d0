"""Checks every result.json mobeval writes against the JSON Schemas the package ships (mobeval.results.schemas),
as it is written: the envelope, and the task section of its kind. Installed in the test process by
tests/conftest.py and, through this folder's sitecustomize.py on PYTHONPATH, in every Python process the tests
start (`python -m mobeval run ...`, Ray workers)."""

from __future__ import annotations

import json


def problems(doc: dict) -> list[str]:
    import jsonschema

    from mobeval.results.schemas import schema

    found = []
    for stem, part in (("result", doc), (f"task-{doc.get('kind')}", doc.get("task"))):
        s = schema(stem)
        if s is None:  # a kind a plugin adds: the envelope is still checked
            continue
        found += [f"{stem}: {'.'.join(map(str, e.absolute_path)) or '(top)'}: {e.message}"
                  for e in jsonschema.Draft202012Validator(s).iter_errors(part)]
    return found


def install() -> None:
    """Wrap RunDir.write_result so that a result.json that does not validate fails where it is written."""
    from mobeval.results.store import RunDir

    original = RunDir.write_result
    if getattr(original, "schema_checked", False):
        return

    def write_result(self, result):
        original(self, result)
        found = problems(json.loads((self.path / "result.json").read_text(encoding="utf-8")))
        if found:
            raise AssertionError(f"{self.path / 'result.json'} does not validate against its shipped schema: "
                                 f"{found[:5]}")

    write_result.schema_checked = True
    RunDir.write_result = write_result
