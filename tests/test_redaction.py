"""No secret of the endpoint URL or the API key is recorded or shown: checked on a real run against a
real llama-cpp-python server on loopback, by searching every byte of every file the run wrote and
everything it printed."""

import base64
import re
from pathlib import Path
from urllib.parse import quote

import pytest
from typer.testing import CliRunner

from mobeval.cli import app
from mobeval.text.runners.local_server import free_port, start_server
from mobeval.core.redact import redact_text, redact_url, url_secrets

cli = CliRunner()

USER, PASSWORD = "mobeval-user-7f3", "hunter2-pa55:w@rd"
QUERY_TOKEN, SIGNATURE, API_KEY = "tok-QUERY-5ecret", "sig-VALUE-5ecret", "sk-FLAG-5ecret"
SECRETS = [USER, PASSWORD, QUERY_TOKEN, SIGNATURE, API_KEY]


def secret_url(port: int) -> str:
    userinfo = f"{quote(USER, safe='')}:{quote(PASSWORD, safe='')}"
    return f"http://{userinfo}@127.0.0.1:{port}/v1?api_key={QUERY_TOKEN}&api-version=7&sig={SIGNATURE}"


def forms(secret: str) -> list[bytes]:
    """The ways a secret could be written: as is, percent-encoded, inside a Basic auth header."""
    basic = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
    return [s.encode() for s in {secret, quote(secret, safe=""), quote(secret), basic}]


def assert_nowhere(root: Path, printed: str) -> int:
    """No secret in any file under root nor in the printed text; returns how many files were searched."""
    files = [p for p in root.rglob("*") if p.is_file()]
    for path in files:
        data = path.read_bytes()
        for secret in SECRETS:
            for form in forms(secret):
                assert form not in data, f"{secret!r} written to {path}"
    flat = re.sub(r"\s+", "", printed)  # a console may wrap a long line inside a secret
    for secret in SECRETS:
        for form in forms(secret):
            assert form.decode() not in printed and form.decode() not in flat, f"{secret!r} printed"
    return len(files)


@pytest.mark.parametrize("url,want", [
    ("http://u:pw@h:8080/v1", "http://***@h:8080/v1"),
    ("http://h/v1?api_key=abcd&api-version=2&x=1", "http://h/v1?api_key=***&api-version=2&x=1"),
    ("https://h/v1?access_token=a1b2;sig=c3d4#token=e5f6&state=ok", "https://h/v1?access_token=***;sig=***#token=***&state=ok"),
    ("https://h/v1?X-Amz-Signature=s1s1&X-Amz-Credential=c1c1&key=k", "https://h/v1?X-Amz-Signature=***&X-Amz-Credential=***&key=***"),
    ("http://u:pw@[::1/v1?token=abcd", "http://***@[::1/v1?token=***"),  # urlsplit refuses it: by pattern
    ("http://127.0.0.1:8080/v1", "http://127.0.0.1:8080/v1"),
])
def test_redact_url(url, want):
    assert redact_url(url) == want


def test_redact_text_masks_urls_and_known_secrets():
    url = "http://alice:s3cr%40t!@h/v1?key=xyz123"
    msg = f"GET {url}/models failed; password s3cr@t! rejected; key xyz123"
    out = redact_text(msg, ["sk-abcdef", *url_secrets(url)])
    assert "s3cr" not in out and "xyz123" not in out and "alice" not in out
    assert "http://***@h/v1" in out and redact_text("no secrets here", ["sk-abcdef"]) == "no secrets here"


@pytest.fixture(scope="module")
def open_server(smollm2_path, tmp_path_factory):
    pytest.importorskip("llama_cpp.server.app", reason="needs llama-cpp-python[server]")
    server = start_server(smollm2_path, tmp_path_factory.mktemp("server") / "server.log", n_ctx=1024,
                          threads=2, timeout_s=60)
    yield server
    server.stop()


def test_a_real_run_writes_and_prints_no_secret(open_server, tmp_path):
    port = int(open_server.base_url.rsplit(":", 1)[1].split("/")[0])
    url = secret_url(port)
    out = tmp_path / "runs"
    res = cli.invoke(app, ["run", "--runner", "openai", "--endpoint", url, "--api-key", API_KEY, "--limit", "2",
                           "--orderings", "cyclic", "--output-dir", str(out)])
    assert res.exit_code == 0, res.output
    (run,) = out.iterdir()
    printed = res.output + cli.invoke(app, ["report", str(run)]).output + cli.invoke(app, ["submit", str(run)]).output
    searched = assert_nowhere(out, printed)
    assert searched >= 6  # run.json, selection.json, samples.jsonl, segments.jsonl, result.json, submission.csv
    # the endpoint is recorded, redacted, where a reader looks for it
    masked = f"http://***@127.0.0.1:{port}/v1?api_key=***&api-version=7&sig=***"
    for name in ("run.json", "result.json", "segments.jsonl"):
        assert masked in (run / name).read_text(), name
    assert "***@127.0.0.1" in res.output  # the report's header


def test_a_failed_run_prints_no_secret(tmp_path):
    url = secret_url(free_port())  # nothing listens there
    res = cli.invoke(app, ["run", "--runner", "openai", "--endpoint", url, "--api-key", API_KEY, "--limit", "2",
                           "--output-dir", str(tmp_path / "runs")])
    assert res.exit_code == 1 and "cannot reach" in res.output, res.output
    assert_nowhere(tmp_path, res.output)
    assert "http://***@127.0.0.1" in res.output
