"""Loaded by every Python process the test suite starts (tests/conftest.py puts this folder on PYTHONPATH):
results those processes write are checked against the shipped schemas too (result_schema_check.py)."""

try:
    from result_schema_check import install

    install()
except ImportError:  # a process without mobeval or jsonschema: nothing to check there
    pass
