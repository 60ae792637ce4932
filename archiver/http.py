"""One polite HTTP client for the whole run.

Every source fetches through an ``Http`` instance: connect/read timeouts, retries with exponential
backoff on connection errors, timeouts, truncated bodies and 5xx, ``Retry-After`` honoured on
429/503, a minimum delay between requests to the same host, a descriptive User-Agent with a contact
address, optional extra headers (some sites hand archivers an access header), a body-size cap, and
307/308 redirects followed with the POST body (requests keeps method and body for those).
"""

from __future__ import annotations

import email.utils
import logging
import os
import time
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import requests

from archiver import __version__, coerce
from archiver.errors import FetchError

log = logging.getLogger("archiver.http")

DEFAULT_CONTACT = "archiver-user@example.invalid"
RETRY_STATUSES = {429, 500, 502, 503, 504, 520, 521, 522, 524}


class ChallengeError(FetchError):
    """An HTML page (bot challenge, login wall) arrived where an API answer was expected."""


class HttpStatusError(FetchError):
    def __init__(self, message: str, status: int, body: str | None = None):
        super().__init__(message)
        self.status = status
        self.body = body  # start of the error response, for sources that relay the API's reason


@dataclass
class HttpSettings:
    delay: float = 1.0  # minimum seconds between two requests to the same host
    retries: int = 4
    backoff: float = 1.0  # first retry waits this long, then doubles
    connect_timeout: float = 10.0
    read_timeout: float = 60.0
    max_retry_after: float = 300.0  # a longer Retry-After is an error, not a silent hour-long sleep
    max_bytes: int = 200 * 1024 * 1024
    contact: str | None = None
    extra_headers: dict[str, str] = field(default_factory=dict)


def user_agent(contact: str | None) -> str:
    contact = contact or os.environ.get("ARCHIVER_CONTACT") or DEFAULT_CONTACT
    return f"archiver/{__version__} (research archiver; +mailto:{contact})"


def extra_headers_from_env() -> dict[str, str]:
    """``ARCHIVER_HEADER="Name: value"`` adds one header to every request."""
    raw = os.environ.get("ARCHIVER_HEADER", "")
    if ":" not in raw:
        return {}
    name, value = raw.split(":", 1)
    return {name.strip(): value.strip()}


def _retry_after_seconds(value: str | None) -> float | None:
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


class Http:
    def __init__(self, settings: HttpSettings | None = None, sleep=time.sleep):
        self.settings = settings or HttpSettings()
        self.sleep = sleep
        self.session = requests.Session()
        self.session.max_redirects = 10
        headers = {"User-Agent": user_agent(self.settings.contact), "Accept-Encoding": "gzip"}
        headers.update(extra_headers_from_env())
        headers.update(self.settings.extra_headers)
        self.session.headers.update(headers)
        self.requests_made = 0
        self._last_request: dict[str, float] = {}

    def close(self) -> None:
        self.session.close()

    # -- public helpers -------------------------------------------------------------------------

    def get_text(self, url: str, **kwargs) -> str:
        return self.request("GET", url, **kwargs).text

    def get_json(self, url: str, **kwargs):
        return self.decode_json(self.request("GET", url, **kwargs), url)

    def post_json(self, url: str, payload: dict, **kwargs):
        return self.decode_json(self.request("POST", url, json=payload, **kwargs), url)

    def post_json_response(self, url: str, payload: dict, **kwargs):
        """(status, decoded JSON) for APIs whose error bodies matter (GraphQL)."""
        response = self.request("POST", url, json=payload, **kwargs)
        return response.status_code, self.decode_json(response, url)

    # -- core ----------------------------------------------------------------------------------

    def request(self, method: str, url: str, allow_status: tuple[int, ...] = (),
                **kwargs) -> requests.Response:
        """Send with retries; return a response whose body is fully read and within the size cap.

        Statuses in ``allow_status`` are returned rather than raised (a GraphQL validation error
        arrives as a 400 whose body says what was wrong).
        """
        attempts = self.settings.retries + 1
        last_problem = "no attempt made"
        for attempt in range(attempts):
            self._pace(url)
            started = time.monotonic()
            try:
                response = self._send(method, url, **kwargs)
            except requests.TooManyRedirects as exc:
                raise FetchError(f"{url}: too many redirects (a redirect loop?)") from exc
            except (requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError,
                    requests.exceptions.ContentDecodingError, _Truncated) as exc:
                last_problem = _describe(exc)
                log.info("%s %s -> %s (%.2fs, attempt %d)", method, _safe(url), last_problem,
                         time.monotonic() - started, attempt + 1)
                self._backoff(attempt, None)
                continue
            log.info("%s %s -> %s (%.2fs, attempt %d)", method, _safe(response.url), response.status_code,
                     time.monotonic() - started, attempt + 1)
            if response.status_code in RETRY_STATUSES and attempt + 1 < attempts:
                last_problem = f"HTTP {response.status_code}"
                self._backoff(attempt, _retry_after_seconds(response.headers.get("Retry-After")))
                continue
            if response.status_code >= 400 and response.status_code not in allow_status:
                raise self._status_error(response, url)
            return response
        tries = f"{attempts} attempt" + ("s" if attempts != 1 else "")
        raise FetchError(f"{_safe(url)}: gave up after {tries} ({last_problem}); "
                         "check your network or try again later with a larger --delay")

    def _send(self, method: str, url: str, **kwargs) -> requests.Response:
        self.requests_made += 1
        timeout = (self.settings.connect_timeout, self.settings.read_timeout)
        response = self.session.request(method, url, timeout=timeout, stream=True, **kwargs)
        try:
            response._content = self._read_capped(response, url)
        finally:
            response.close()
        return response

    def _read_capped(self, response: requests.Response, url: str) -> bytes:
        cap = self.settings.max_bytes
        declared = response.headers.get("Content-Length")
        if declared and declared.isdigit() and int(declared) > cap:
            raise FetchError(f"{url}: response of {int(declared):,} bytes exceeds the "
                             f"{cap:,}-byte cap; raise max_bytes in the config if this is expected")
        chunks, size = [], 0
        for chunk in response.iter_content(64 * 1024):
            size += len(chunk)
            if size > cap:
                raise FetchError(f"{url}: response exceeds the {cap:,}-byte cap; "
                                 "raise max_bytes in the config if this is expected")
            chunks.append(chunk)
        body = b"".join(chunks)
        encoding = response.headers.get("Content-Encoding", "")
        if declared and declared.isdigit() and not encoding and len(body) < int(declared):
            raise _Truncated(f"body truncated at {len(body)} of {declared} bytes")
        return body

    def _pace(self, url: str) -> None:
        host = urlsplit(url).netloc
        last = self._last_request.get(host)
        if last is not None:
            wait = self.settings.delay - (time.monotonic() - last)
            if wait > 0:
                self.sleep(wait)
        self._last_request[host] = time.monotonic()

    def _backoff(self, attempt: int, retry_after: float | None) -> None:
        if attempt + 1 > self.settings.retries:
            return
        if retry_after is not None:
            if retry_after > self.settings.max_retry_after:
                raise FetchError(f"the server asked us to wait {retry_after:.0f}s (Retry-After); "
                                 "try again later")
            wait = retry_after
        else:
            wait = self.settings.backoff * (2**attempt)
        if wait > 0:
            self.sleep(wait)

    def _status_error(self, response: requests.Response, url: str) -> FetchError:
        status = response.status_code
        hint = {
            401: "the site wants credentials; set an access header in the config",
            403: "the site refused us; set ARCHIVER_CONTACT, raise --delay, or use an access header",
            404: "not found",
            429: "rate limited; try again later with a larger --delay",
        }.get(status, "the server failed; try again later")
        return HttpStatusError(f"{_safe(url)}: HTTP {status} ({hint})", status,
                               body=response.text[:4000])

    @staticmethod
    def decode_json(response: requests.Response, url: str):
        body = response.content
        try:
            return coerce.loads(body.decode(response.encoding or "utf-8", errors="replace"),
                                _safe(url))
        except ValueError as exc:
            start = body[:200].lstrip().lower()
            if start.startswith((b"<!doctype", b"<html")) or b"<html" in start:
                raise ChallengeError(
                    f"{_safe(url)}: got an HTML page where JSON was expected (a bot challenge or "
                    "an outage?); try later, raise --delay, or set an access header") from exc
            raise FetchError(f"{_safe(url)}: the response is not valid JSON ({exc.msg} at byte "
                             f"{exc.pos}); try again later") from exc


class _Truncated(Exception):
    pass


def _describe(exc: Exception) -> str:
    if isinstance(exc, requests.Timeout):
        return "timed out"
    if isinstance(exc, (requests.exceptions.ChunkedEncodingError, _Truncated)):
        return "body truncated"
    return "connection failed"


def _safe(url: str) -> str:
    """Drop the query string from logged URLs: it may carry API keys."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}{parts.path}"
