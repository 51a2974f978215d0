"""Secrets out of everything recorded or shown: the one place a URL or a message is made safe to write.

A URL keeps its scheme, host, port and path; its userinfo (`user:pass@`) becomes `***@` and the value
of every token-like query (or fragment) parameter becomes `***`. Text (an error message) gets every
URL in it redacted, and every known secret (an API key, a URL's password or token) replaced.
"""

from __future__ import annotations

import re
from typing import Iterable
from urllib.parse import quote, unquote, urlsplit, urlunsplit

MASK = "***"
# Parameter names that carry credentials: key, api_key, apikey, token, access_token, sig, signature,
# password, secret, X-Amz-Credential, X-Amz-Security-Token, session ids, auth codes ...
_TOKEN_NAME = re.compile(r"key|token|secret|pass|pwd|auth|credential|session|sig$|signature|^sig|^code$",
                         re.IGNORECASE)
_URL_IN_TEXT = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^\s'\"<>()\[\]]+")
_USERINFO = re.compile(r"(//)[^/?#@\s]*@")
_PAIR = re.compile(r"([?&;#])([^=&;#\s]+)=([^&;#\s]*)")
MIN_SECRET_CHARS = 4  # shorter strings would mangle ordinary words; they are masked inside URLs only


def token_like(name: str) -> bool:
    """Whether a query parameter's name says its value is a credential."""
    return bool(_TOKEN_NAME.search(unquote(name)))


def _redact_pairs(text: str) -> str:
    """`name=value` pairs separated by & or ; with token-like names masked."""
    if not text:
        return text
    parts = re.split(r"([&;])", text)
    out = []
    for part in parts:
        name, eq, _ = part.partition("=")
        out.append(f"{name}={MASK}" if eq and token_like(name) else part)
    return "".join(out)


def _redact_unparsed(url: str) -> str:
    """A URL urlsplit refuses (e.g. a broken IPv6 host): the same rules by pattern."""
    url = _USERINFO.sub(rf"\1{MASK}@", url)
    return _PAIR.sub(lambda m: f"{m[1]}{m[2]}={MASK}" if token_like(m[2]) else m[0], url)


def redact_url(url: str | None) -> str | None:
    """The URL with its credentials masked; None stays None."""
    if url is None:
        return None
    try:
        p = urlsplit(url)
        p.port  # noqa: B018  (raises ValueError on a malformed port)
    except ValueError:
        return _redact_unparsed(url)
    netloc = p.netloc
    if "@" in netloc:
        netloc = f"{MASK}@" + netloc.rsplit("@", 1)[1]
    return urlunsplit((p.scheme, netloc, p.path, _redact_pairs(p.query), _redact_pairs(p.fragment)))


def url_secrets(url: str | None) -> list[str]:
    """The secret strings inside a URL (userinfo, password, token values), raw and percent-decoded."""
    if not url:
        return []
    found: list[str] = []
    userinfo = re.search(r"//([^/?#\s]*)@", url)
    if userinfo:
        info = userinfo[1]
        found += [info, info.partition(":")[2]]
    found += [m[3] for m in _PAIR.finditer(url) if token_like(m[2])]
    out = []
    for s in found:
        for form in (s, unquote(s), quote(unquote(s), safe="")):
            if len(form) >= MIN_SECRET_CHARS and form not in out:
                out.append(form)
    return out


def redact_text(text: str, secrets: Iterable[str | None] = ()) -> str:
    """A message made safe to print or record: URLs in it redacted, known secrets masked."""
    text = _URL_IN_TEXT.sub(lambda m: redact_url(m[0]) or "", text)
    for s in sorted({s for s in secrets if s and len(s) >= MIN_SECRET_CHARS}, key=len, reverse=True):
        text = text.replace(s, MASK)
    return text
