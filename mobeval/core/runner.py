"""What every runner is, whatever its task kind: a loaded runtime that says what it is and can be closed.

Each modality adds the calls its kind makes (multiple choice: `mobeval.text.runners.base.Runner`;
images, captures and image questions: the `runners/base.py` of vision, spectrum and vlm).
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable


@runtime_checkable
class Runner(Protocol):
    info: Any  # the runner's own description (name, version, settings), recorded in result.json

    def close(self) -> None:
        """Free the runtime."""
