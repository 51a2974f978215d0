"""The user turn a GGUF's own chat template (`tokenizer.chat_template`) puts around a message.

Rendered once with a placeholder message (jinja2's sandbox, as llama.cpp's servers do; generation prompt
added) and cut at the placeholder, so the prompt is prefix + the query's text + suffix. A BOS the template
writes as text is dropped from the prefix: the tokenizer adds the model's BOS itself where it wants one.
"""

from __future__ import annotations

from datetime import datetime

from mobeval.core.errors import RunnerError

_PLACEHOLDER = "\x00MOBEVAL-USER-TEXT\x00"


def user_turn(template: str | None, bos: str, eos: str, where: str) -> tuple[str, str]:
    if not template:
        raise RunnerError(f"{where} has no tokenizer.chat_template; give the chat turn in the model's manifest "
                          '("prefix" and "suffix" around the user text)')
    import jinja2
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    def raise_exception(message: str):
        raise RunnerError(f"{where}: its chat template refused a one-message chat: {message}")

    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=[jinja2.ext.loopcontrols])
    try:
        text = env.from_string(template).render(
            messages=[{"role": "user", "content": _PLACEHOLDER}], add_generation_prompt=True, bos_token=bos,
            eos_token=eos, raise_exception=raise_exception, strftime_now=lambda f: datetime.now().strftime(f))
    except jinja2.TemplateError as exc:
        raise RunnerError(f"{where}: its chat template does not render ({exc})") from exc
    if text.count(_PLACEHOLDER) != 1:
        raise RunnerError(f"{where}: its chat template does not place the user's text once")
    prefix, suffix = text.split(_PLACEHOLDER)
    if bos and prefix.startswith(bos):
        prefix = prefix[len(bos):]
    return prefix, suffix
