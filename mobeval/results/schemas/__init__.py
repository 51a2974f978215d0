"""The JSON Schemas of result.json, shipped with the package: `result.schema.json` for the envelope every
result shares, and `task-KIND.schema.json` for each built-in task kind's `task` section. Generated from the
pydantic models by scripts/docs_schema.py (which also publishes them in docs/reference/schema/); tests check
that every result.json the suite writes validates against them."""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any


@cache
def schema(stem: str) -> dict[str, Any] | None:
    """The schema named `stem` ("result", "task-mcq", ...); None when the package ships none by that name
    (a task kind a plugin adds)."""
    path = resources.files(__name__) / f"{stem}.schema.json"
    if not path.is_file():
        return None
    return json.loads(path.read_text(encoding="utf-8"))
