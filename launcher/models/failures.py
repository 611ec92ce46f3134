"""Classification of download failures: which kind each one is, so the retry policy can act."""

from __future__ import annotations

import email.utils
import errno
import time
from enum import Enum
from typing import Any

from launcher.redact import redact_url


class Kind(str, Enum):
    """How prefetch goes on after a failed attempt."""

    TRANSIENT = "transient"  # retry
    PERMANENT = "permanent"  # do not retry (404, gated, a broken repo)
    UNREACHABLE = "unreachable"  # do not retry, and do not sleep either (DNS, refused)
    DISK = "disk"  # not enough space: do not retry

    def __str__(self) -> str:
        return self.value


TRANSIENT, PERMANENT, UNREACHABLE, DISK = Kind  # in the order above
MAX_RETRY_AFTER = 600.0
MAX_REDIRECTS = 10  # the hub needs one (to its CDN); more than this is a loop
TOKEN_HINT = "Set HF_TOKEN to a token that has access to the repo (and accept its terms)."


class DownloadError(Exception):
    """One failed attempt: what happened (`message`), what to do (`hint`), how to go on (`kind`)."""

    def __init__(
        self,
        message: str,
        kind: Kind,
        *,
        hint: str = "",
        status: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.kind = kind
        self.hint = hint
        self.status = status
        self.retry_after = retry_after
        self.bytes_received = 0  # body bytes that came over the network in this attempt

    def __str__(self) -> str:
        return self.message


def retry_after(value: str | None) -> float | None:
    """Seconds to wait from a Retry-After header (seconds or an HTTP date), capped."""
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        seconds = when.timestamp() - time.time()
    return min(max(seconds, 0.0), MAX_RETRY_AFTER)


def error_from_status(status: int, headers: Any, what: str) -> DownloadError:
    """Classify an HTTP error answer."""
    if status == 429:
        return DownloadError(
            f"the hub is rate-limiting requests (HTTP 429) for {what}",
            TRANSIENT,
            hint="Set HF_TOKEN to a Hugging Face token: authenticated requests get higher limits.",
            status=status,
            retry_after=retry_after(headers.get("Retry-After")),
        )
    if status in (401, 403):
        return DownloadError(
            f"access to {what} was refused (HTTP {status}): the repo is gated or private",
            PERMANENT,
            hint=TOKEN_HINT,
            status=status,
        )
    if status == 404:
        return DownloadError(
            f"{what} was not found on the hub (HTTP 404)", PERMANENT, status=status
        )
    if status == 408 or status >= 500:
        return DownloadError(
            f"the hub answered HTTP {status} for {what}",
            TRANSIENT,
            status=status,
            retry_after=retry_after(headers.get("Retry-After")),
        )
    return DownloadError(f"the hub answered HTTP {status} for {what}", PERMANENT, status=status)


def classify(exc: BaseException, what: str, endpoint: str) -> DownloadError:
    """Turn an exception raised while talking to the hub into a DownloadError.

    `endpoint` must already be safe to show (no credentials). Anything unexpected is re-raised.
    """
    import httpx

    if isinstance(exc, DownloadError):
        return exc
    if isinstance(exc, OSError) and exc.errno in {errno.ENOSPC, getattr(errno, "EDQUOT", -1)}:
        return DownloadError(
            f"the disk is full while downloading {what}",
            DISK,
            hint="Free some space, or point --cache-dir at a drive with room.",
        )
    if isinstance(exc, httpx.TooManyRedirects):
        return DownloadError(
            f"{endpoint} redirected {what} more than {MAX_REDIRECTS} times (a redirect loop)",
            TRANSIENT,
            hint="If HF_ENDPOINT points at a mirror, its redirects are misconfigured; unset it "
            "or fix it.",
        )
    if isinstance(exc, (httpx.ConnectError, httpx.ProxyError)):
        return _unreachable(exc, endpoint)
    if isinstance(exc, httpx.TimeoutException):
        phase = "connecting" if isinstance(exc, httpx.ConnectTimeout) else "waiting for data"
        return DownloadError(f"timed out {phase} from {endpoint} for {what}", TRANSIENT)
    if isinstance(exc, httpx.RequestError):  # a broken connection, a bad answer, bad encoding
        detail = redact_url(str(exc))
        return DownloadError(f"the connection broke while downloading {what} ({detail})", TRANSIENT)
    if isinstance(exc, OSError):
        detail = redact_url(str(exc))
        return DownloadError(
            f"a file operation failed while downloading {what}: {detail}", TRANSIENT
        )
    raise exc


def proxy_for(url: str) -> str | None:
    """The proxy the HTTP client takes for `url` from the environment (HTTP(S)_PROXY,
    ALL_PROXY, NO_PROXY), credentials masked; None when it goes direct."""
    import urllib.request
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    proxies = urllib.request.getproxies()
    proxy = proxies.get(parts.scheme) or proxies.get("all")
    if not proxy or urllib.request.proxy_bypass(parts.hostname or ""):
        return None
    return redact_url(proxy)


def _unreachable(exc: BaseException, endpoint: str) -> DownloadError:
    """Cannot connect: to the hub, or (when one is set) to the proxy in between, named."""
    detail = redact_url(str(exc))
    proxy = proxy_for(endpoint)
    if proxy is not None:
        return DownloadError(
            f"cannot reach {endpoint} through the proxy {proxy} ({detail})",
            UNREACHABLE,
            hint="Check that the proxy in HTTPS_PROXY/HTTP_PROXY/ALL_PROXY runs (or unset it, "
            "or add the hub's host to NO_PROXY); a cached model needs no network.",
        )
    return DownloadError(
        f"cannot reach {endpoint} ({detail})",
        UNREACHABLE,
        hint="Check your network, proxy or HF_ENDPOINT; a cached model needs no network.",
    )
