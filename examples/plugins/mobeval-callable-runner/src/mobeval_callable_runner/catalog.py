"""What this plugin adds to mobeval's catalogs: data only, so `mobeval list` reads it without importing the runner."""

from mobeval.core.entries import RunnerEntry

RUNNER = RunnerEntry(
    "mobeval_callable_runner.runner:CallableRunner",
    "folder-or-id",  # --model is handed to the runner as given: here "package.module:function"
    "multiple choice scored by any Python function named as --model (package.module:function), given the prompt "
    "and the option letters, returning one log-probability each (example plugin)",
    kinds=("mcq",),
)
