"""Server replies recorded (or, where labelled, written) as test fixtures, under tests/fixtures/http."""

import json
from pathlib import Path

HTTP = Path(__file__).parent / "fixtures" / "http"


def fixture(name: str) -> dict:
    return json.loads((HTTP / f"{name}.json").read_text())
