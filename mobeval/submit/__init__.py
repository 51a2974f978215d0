"""Submissions: `mobeval submit RUN --check` (one verdict per concern, in the style of MLPerf's submission
checker) and the submission bundle `mobeval submit RUN --bundle OUT` writes and `mobeval board` verifies.

- `files.py`: the files a run folder must hold, and which are missing;
- `checks.py`: the checks, each a PASS, FAIL or SKIP with its reason, generic across task kinds (a kind
  adds its own through `TaskKind.submission_checks`);
- `bundle.py`: the bundle (the run's files, environment.json and a manifest of sha256 hashes), as a folder
  or a .tar.gz, and its verification.
"""
