"""Keep secrets out of every output and log: tokens, `.env` values, credentials in URLs.

Replaced by `***` wherever they appear: secret-looking environment variables, every value of the
project's `.env` (read as python-dotenv reads it; plain numbers, booleans, loopback addresses and
short words under non-secret names excepted), and the credentials of any URL.
"""

from __future__ import annotations

import io
import os
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from urllib.parse import unquote, urlsplit

from launcher.values import FALSE_WORDS, TRUE_WORDS

_SECRET_NAME = re.compile(r"(TOKEN|API_KEY|APIKEY|SECRET|PASSWORD|PASSWD)$", re.IGNORECASE)
# scheme://userinfo@ : userinfo has no "/", "@" or white space (RFC 3986 authority)
_URL_USERINFO = re.compile(r"(?P<scheme>\b[A-Za-z][A-Za-z0-9+.-]*://)(?P<userinfo>[^/@\s\"'<>]+)@")
URL_VARIABLES = (
    "HF_ENDPOINT",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "ALL_PROXY",
    "http_proxy",
    "https_proxy",
    "all_proxy",
)
_MIN_LEN = 4  # a secret-named value this short is still hidden
_MIN_PLAIN_LEN = 6  # any other .env value: shorter ones (`dev`, `test`) would mask common words
# values that are not secrets and would garble every output if hidden: numbers, loopback hosts
_PLAIN = re.compile(r"[+-]?\d+(\.\d+)?|(\d{1,3}\.){3}\d{1,3}|localhost|::1?")
_extra: set[str] = set()


def is_secret_name(name: str) -> bool:
    return bool(_SECRET_NAME.search(name))


def url_credentials(url: str) -> list[str]:
    """The user, the password and `user:password` of a URL, as written and percent-decoded."""
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return []
    userinfo = parts.netloc.rpartition("@")[0] if "@" in parts.netloc else ""
    if not userinfo:
        return []
    pieces = {userinfo, *userinfo.split(":", 1)}
    return [p for value in pieces for p in {value, unquote(value)} if p]


def secret_values(env: Mapping[str, str] | None = None) -> set[str]:
    source = os.environ if env is None else env
    found = {v for k, v in source.items() if is_secret_name(k) and len(v) >= _MIN_LEN}
    for name in URL_VARIABLES:
        found.update(v for v in url_credentials(source.get(name, "")) if len(v) >= _MIN_LEN)
    return found | _extra


def register_secrets(values: Iterable[str]) -> None:
    _extra.update(v for v in values if len(v) >= _MIN_LEN)


def _worth_hiding(value: str, *, secret_name: bool = False) -> bool:
    """Every .env value is a secret, but for plain numbers, booleans and loopback addresses
    (ports, flags, counts, `127.0.0.1`) and very short words: hiding those would mask every
    `8000`, `true` or `test` in the output and tell nobody anything. A value under a secret
    name (`*_TOKEN`, `*_PASSWORD`, …) is hidden whatever it looks like."""
    text = value.strip()
    if secret_name:
        return len(text) >= _MIN_LEN
    if len(text) < _MIN_PLAIN_LEN or text.lower() in TRUE_WORDS | FALSE_WORDS:
        return False
    return not _PLAIN.fullmatch(text.lower())


def dotenv_secrets(path: Path) -> list[str]:
    """The values of a dotenv file worth hiding, parsed as python-dotenv parses them."""
    from dotenv import dotenv_values

    try:
        text = path.read_text(encoding="utf-8-sig", errors="replace")
    except OSError:
        return []
    values = dotenv_values(stream=io.StringIO(text), interpolate=False)
    found: list[str] = []
    for key, value in values.items():
        secret_name = is_secret_name(key)
        if value is None or not _worth_hiding(value, secret_name=secret_name):
            continue
        found.append(value)
        lines = value.splitlines()
        found.extend(line for line in lines if _worth_hiding(line, secret_name=secret_name))
        found.extend(url_credentials(value))
    return found


def redact_url(url: str) -> str:
    """`url` with the user and password of its authority replaced by `***`."""
    return _URL_USERINFO.sub(lambda m: m.group("scheme") + "***@", url)


def redact(text: str) -> str:
    text = redact_url(text)
    for value in sorted(secret_values(), key=len, reverse=True):
        if value in text:
            text = text.replace(value, "***")
    return text
