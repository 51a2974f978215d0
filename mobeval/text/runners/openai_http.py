"""Any OpenAI-compatible server over HTTP: llama-server, llama-cpp-python's server, mlc_llm serve, Ollama.

Letters are scored with one `max_tokens=1` completions request per prompt (letters.py), with an equal
logit_bias on the letter tokens where the server can tokenize them for us. Requests run concurrently
up to `concurrency`; responses come back in request order. Latency is measured on this side of the
wire, so it includes the network; where the server reports its own timings (llama-server's `timings`),
they are kept beside it. The API key goes into the Authorization header and nowhere else.
"""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable, Iterator, Sequence, TypeVar
from urllib.parse import parse_qsl, urlsplit, urlunsplit

import httpx

from mobeval.core.errors import RunnerError
from mobeval.core.redact import redact_text, redact_url, url_secrets
from mobeval.text.runners.letters import (NoLogprobsError, LetterScores, engine_timings, letter_request,
                                     letter_token_ids, parse_letters, reply_text, token_counts)
from mobeval.text.types import ChoiceRequest, ChoiceResponse, GenerateRequest, GenerateResponse, RunnerInfo

RETRIES = 3  # after the first attempt, on connection errors and 5xx
BACKOFF_S = 0.5  # doubled after each retry: 0.5, 1, 2 s
PROBE_TIMEOUT_S = 10.0
TOP_LOGPROBS = 20  # the most OpenAI chat, MLC chat, vLLM and Ollama accept
# (path under the server root, field holding the text): llama-cpp-python's server, then llama-server
TOKENIZE_ENDPOINTS = (("/extras/tokenize", "input"), ("/tokenize", "content"))
T = TypeVar("T")


redact = redact_url  # the one redaction (mobeval/core/redact.py); the name this module used before


class _ServerError(Exception):
    """A 5xx answer: worth retrying."""


class OpenAIRunner:
    def __init__(self, model: str | None, endpoint: str, api_key: str | None = None, concurrency: int = 1,
                 request_timeout: float = 60.0, chat: bool = False, seed: int = 0, top_logprobs: int = TOP_LOGPROBS):
        if concurrency < 1:
            raise RunnerError("--concurrency must be at least 1")
        try:  # a query (?key=...) goes on every request, not between the base URL and /models
            parts = urlsplit(endpoint)
            parts.port  # noqa: B018  (raises ValueError on a malformed port)
        except ValueError as exc:
            raise RunnerError(f"--endpoint {redact(endpoint)}: not a URL ({exc})") from exc
        self.endpoint = urlunsplit((parts.scheme, parts.netloc, parts.path, "", "")).rstrip("/")
        self._root = self.endpoint.removesuffix("/v1")
        self._where = redact(endpoint)
        self._key = api_key
        self._secrets = [api_key, *url_secrets(endpoint)]
        self._timeout = request_timeout
        self.chat, self.seed, self.top_logprobs = chat, seed, top_logprobs
        self.questions_per_call = concurrency
        self._client = httpx.Client(
            headers={"Authorization": f"Bearer {api_key}"} if api_key else {}, timeout=request_timeout,
            params=parse_qsl(parts.query, keep_blank_values=True),
            limits=httpx.Limits(max_connections=concurrency + 2),
        )
        self._tokenizer: tuple[str, str] | None = None  # the endpoint that worked, once found
        self._letter_ids: dict[tuple[str, ...], list[int] | None] = {}
        try:
            served = self._probe()
        except RunnerError:
            self._client.close()
            raise
        self._pool = ThreadPoolExecutor(concurrency, thread_name_prefix="mobeval-http")
        self.model = model or served.get("id")
        self.info = RunnerInfo(
            name="openai",
            backend_version=f"OpenAI-compatible server, owned_by={served.get('owned_by', '?')}; httpx {httpx.__version__}",
            settings={
                "endpoint": self._where, "served_model": served.get("id"), "concurrency": concurrency,
                "request_timeout": request_timeout, "chat": chat, "top_logprobs": top_logprobs,
                "logit_bias": "not used yet", "server_logprobs": None,
                "letters_floored": 0, "letters_whitespace_matched": 0,
            },
        )

    # -- HTTP ----------------------------------------------------------------------------------------
    def _scrub(self, text: str) -> str:
        return redact_text(text, self._secrets)

    def _check(self, r: httpx.Response) -> httpx.Response:
        if r.status_code >= 500:
            raise _ServerError(f"HTTP {r.status_code}: {r.text[:200]}")
        if r.status_code == 401:
            raise RunnerError(f"{self._where} refused the request (401): check --api-key / MOBEVAL_API_KEY")
        if r.status_code >= 400:
            raise RunnerError(self._scrub(f"{redact(str(r.url))} answered HTTP {r.status_code}: {r.text[:300]}"))
        return r

    def _retrying(self, call: Callable[[], T], what: str, retries: int = RETRIES) -> T:
        for attempt in range(retries + 1):
            try:
                return call()
            except httpx.TimeoutException as exc:
                raise RunnerError(f"{what}: no reply within {self._timeout} s (raise --request-timeout)") from exc
            except (httpx.TransportError, _ServerError) as exc:
                if attempt == retries:
                    raise RunnerError(self._scrub(
                        f"{what}: the server at {self._where} failed {attempt + 1} time(s): "
                        f"{type(exc).__name__}: {exc}")) from exc
                time.sleep(BACKOFF_S * 2 ** attempt)
        raise AssertionError("unreachable")

    def _post(self, url: str, body: dict) -> dict:
        return self._retrying(lambda: self._check(self._client.post(url, json=body)).json(), f"POST {redact(url)}")

    def _probe(self) -> dict:
        """GET /models once, without retries: an unreachable server is a quick, clear error."""
        url = f"{self.endpoint}/models"
        hint = "is it running, and does --endpoint end in /v1?"
        try:
            r = self._client.get(url, timeout=min(self._timeout, PROBE_TIMEOUT_S))
            if r.status_code == 404:
                raise RunnerError(f"{self._where} has no /models: not an OpenAI-compatible API root; {hint}")
            data = self._check(r).json().get("data") or []
        except (httpx.TransportError, _ServerError, ValueError) as exc:
            raise RunnerError(self._scrub(f"cannot reach an OpenAI-compatible server at {self._where} "
                                          f"(GET /models: {type(exc).__name__}: {exc}); {hint}")) from exc
        return data[0] if data else {}

    # -- tokenizing the letters for logit_bias --------------------------------------------------------
    def _tokenize(self, text: str) -> list[int] | None:
        """Token ids from the server's own tokenizer; None where it exposes none."""
        for path, field in [self._tokenizer] if self._tokenizer else TOKENIZE_ENDPOINTS:
            url = self._root + path
            try:
                r = self._retrying(lambda: self._client.post(url, json={field: text}), f"POST {redact(url)}")
            except RunnerError:
                continue
            try:
                tokens = r.json().get("tokens") if r.status_code == 200 else None
            except ValueError:  # not JSON: not a tokenize endpoint
                tokens = None
            if isinstance(tokens, list):
                self._tokenizer = (path, field)
                return [t if isinstance(t, int) else t["id"] for t in tokens]
        return None

    def _ids_for(self, continuations: tuple[str, ...]) -> list[int] | None:
        if continuations not in self._letter_ids:
            first = self._tokenize(continuations[0])
            ids = None
            if first is not None:  # what the tokenizer puts before any text (BOS) is not the letter
                tokenized = [first] + [self._tokenize(c) or [] for c in continuations[1:]]
                ids = letter_token_ids(tokenized, self._tokenize("") or [])
            self._letter_ids[continuations] = ids
            self.info.settings["logit_bias"] = (
                f"+100 on the letters, ids from {self._tokenizer[0]}" if ids else
                "none: the server has no tokenize endpoint" if first is None else
                "none: a letter is not one token")
        return self._letter_ids[continuations]

    # -- scoring -------------------------------------------------------------------------------------
    @property
    def _path(self) -> str:
        return f"{self.endpoint}/chat/completions" if self.chat else f"{self.endpoint}/completions"

    def _score(self, req: ChoiceRequest, ids: list[int] | None) -> tuple[ChoiceResponse, LetterScores]:
        body = letter_request(req.prompt, self.top_logprobs, ids, chat=self.chat, seed=self.seed, model=self.model)
        t0 = time.perf_counter()
        resp = self._post(self._path, body)
        latency = time.perf_counter() - t0
        scores = parse_letters(resp, req.continuations)
        prompt, evaluated = token_counts(resp)
        return ChoiceResponse(scores.logprobs, prompt, evaluated, latency, engine_timings(resp)), scores

    def score_choices(self, requests: Sequence[ChoiceRequest]) -> list[ChoiceResponse]:
        ids = [self._ids_for(tuple(r.continuations)) for r in requests]
        try:
            results = list(self._pool.map(self._score, requests, ids))
        except NoLogprobsError as exc:
            self.info.settings["server_logprobs"] = False
            raise RunnerError(
                f"the server at {self._where} returns no logprobs, so letters cannot be scored there: "
                "run with --method generate (the reply's letter is parsed instead)") from exc
        s = self.info.settings
        s["server_logprobs"] = True
        s["letters_floored"] += sum(r.floored for _, r in results)
        s["letters_whitespace_matched"] += sum(r.whitespace_matched for _, r in results)
        return [resp for resp, _ in results]

    # -- generation ----------------------------------------------------------------------------------
    def _events(self, path: str, body: dict) -> Iterator[dict]:
        """The parsed server-sent events of one streamed POST. An error event, or a stream that ends with
        no event at all, is a RunnerError: llama-cpp-python's server answers 200 and then drops the
        stream when its handler fails (its log says why)."""
        events = 0
        with self._client.stream("POST", path, json=body) as r:
            if r.status_code >= 400:
                r.read()
            self._check(r)
            for line in r.iter_lines():
                if not line.startswith("data:") or line[5:].strip() == "[DONE]":
                    continue
                chunk = json.loads(line[5:])
                events += 1
                if chunk.get("error"):
                    raise RunnerError(self._scrub(f"the server at {self._where} failed mid-answer: "
                                                  f"{str(chunk['error'])[:300]}"))
                yield chunk
        if not events:
            raise RunnerError(f"the server at {self._where} ended the stream without an answer (no event); its log "
                              "says why (e.g. a chat template that cannot render the request)")

    def _stream_once(self, body: dict) -> tuple[dict[str, Any], float]:
        """One streamed request: text, time to first token, the chunk carrying usage."""
        t0 = time.perf_counter()
        parts: list[str] = []
        first_event = ttft = None
        usage: dict = {}
        for chunk in self._events(self._path, body):
            first_event = first_event or time.perf_counter() - t0
            if text := reply_text(chunk):
                ttft = ttft or time.perf_counter() - t0
                parts.append(text)
            if chunk.get("usage") or chunk.get("timings"):
                usage = chunk
        latency = time.perf_counter() - t0
        return {"text": "".join(parts), "chunks": len(parts), "usage": usage,
                "ttft": ttft or first_event or latency}, latency

    def _generate(self, req: GenerateRequest) -> GenerateResponse:
        body: dict[str, Any] = {"max_tokens": req.max_tokens, "temperature": 0.0, "seed": self.seed, "stream": True,
                                "stream_options": {"include_usage": True}}
        body.update({"messages": [{"role": "user", "content": req.prompt}]} if self.chat else {"prompt": req.prompt})
        if self.model:
            body["model"] = self.model
        out, latency = self._retrying(lambda: self._stream_once(body), f"POST {redact(self._path)}")
        prompt, evaluated = token_counts(out["usage"])
        source = "the stream's usage"
        if not out["usage"].get("usage"):  # llama-cpp-python streams none: count with the server's tokenizer
            counted = self._tokenize(req.prompt)
            prompt = evaluated = len(counted or [])
            source = ("unknown (0): no usage in the stream, no tokenize endpoint" if counted is None else
                      "the server's tokenizer" + (", chat template not counted" if self.chat else ""))
        self.info.settings["generate_prompt_tokens"] = source
        generated = int((out["usage"].get("usage") or {}).get("completion_tokens") or out["chunks"])
        return GenerateResponse(text=out["text"], prompt_tokens=prompt, evaluated_tokens=evaluated + max(generated - 1, 0),
                                generated_tokens=generated, latency_s=latency, ttft_s=out["ttft"],
                                engine=engine_timings(out["usage"]))

    def generate(self, requests: Sequence[GenerateRequest]) -> list[GenerateResponse]:
        return list(self._pool.map(self._generate, requests))

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)
        self._client.close()
