"""Reading a vision-language model's answer.

Multiple choice: the chosen position is the candidate letter with the highest log-probability where the
runner gives them (ties: the first), else the letter the text starts with (mobeval.text.samples.parse_letter:
"B", "(B)", "B.", "Answer: B"; prose or a letter outside the options is an invalid answer, counted).

Open answers are compared with the reference two ways:
- exact match: the answer text with surrounding whitespace removed equals the reference likewise
  stripped, character for character;
- normalised match (SQuAD's answer normalisation): both lowercased, punctuation removed, the articles
  "a", "an" and "the" removed as words, and runs of whitespace collapsed to one space, then compared.
  "The 7." matches "7"; "seven" does not match "7".
"""

from __future__ import annotations

import re
import string

from mobeval.text.samples import choose_by_logprob, parse_letter

_PUNCT = set(string.punctuation)
_ARTICLES = re.compile(r"\b(a|an|the)\b")


def normalise(text: str) -> str:
    """Lowercase, punctuation removed, articles removed, whitespace collapsed (SQuAD's normalize_answer)."""
    text = "".join(ch for ch in text.lower() if ch not in _PUNCT)
    return " ".join(_ARTICLES.sub(" ", text).split())


def exact_match(answer: str, reference: str) -> bool:
    return answer.strip() == reference.strip()


def normalised_match(answer: str, reference: str) -> bool:
    return normalise(answer) == normalise(reference)


def choose(text: str, logprobs: tuple[float, ...] | None, n_options: int) -> int | None:
    """The chosen position: by log-probability when given, else parsed from the text (None: invalid)."""
    if logprobs is not None:
        return choose_by_logprob(tuple(logprobs))
    return parse_letter(text, n_options)
