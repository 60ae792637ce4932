"""One polite HTTP client for the whole run.

Every source fetches through an ``Http`` instance: connect/read timeouts, retries with exponential
backoff on connection errors, timeouts, truncated bodies and 5xx, ``Retry-After`` honoured on
429/503, a minimum delay between requests to the same host, a descriptive User-Agent with a contact
address, optional extra headers (some sites hand archivers an access header), a body-size cap, and
307/308 redirects followed with the POST body (requests keeps method and body for those).

Two limits keep a bad host from holding a run hostage:

- a deadline per attempt (``connect_timeout + 3 * read_timeout`` unless set): the read timeout only
  bounds the silence between two packets, so a server trickling one byte a second would otherwise
  keep us for hours. While the status line and headers arrive, a timer shuts the socket down at
  the deadline (http.client reads them line by line, with no place to check a clock); the body is
  read in pieces and the deadline checked between them. A request over its deadline fails at once
  (retrying a trickling server only trickles again).
- per-host failure accounting for the whole run: a name that does not resolve or an unreachable
  network fails at once without retries (``Unreachable``); after ``host_failures`` consecutive
  connection failures, or once a request has used up its retries, the host is marked failing and
  every later request to it raises ``HostFailing`` without touching the network.
"""

from __future__ import annotations

import contextlib
import email.utils
import errno
import logging
import os
import socket
import threading
import time
from contextvars import ContextVar
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import requests
import urllib3.connection
import urllib3.connectionpool
import urllib3.exceptions

from archiver import __version__
from archiver.kernel import coerce
from archiver.kernel.errors import FetchError

log = logging.getLogger("archiver.kernel.http")

DEFAULT_CONTACT = "archiver-user@example.invalid"
RETRY_STATUSES = {429, 500, 502, 503, 504, 520, 521, 522, 524}


class ChallengeError(FetchError):
    """An HTML page (bot challenge, login wall) arrived where an API answer was expected."""


class Unreachable(FetchError):
    """The host's name does not resolve or the network is unreachable: not worth retrying."""


class HostFailing(FetchError):
    """This run already gave up on the host; nothing was sent."""

    def __init__(self, message: str, host: str):
        super().__init__(message)
        self.host = host


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
    deadline: float | None = None  # whole attempt (connect, headers, body); None = see below
    host_failures: int = 3  # consecutive connection failures before the run stops asking a host

    def attempt_deadline(self) -> float:
        """Seconds one attempt may take from connecting to the last body byte."""
        if self.deadline is not None:
            return self.deadline
        return self.connect_timeout + 3 * self.read_timeout


def url_problem(url: str) -> str | None:
    """Why ``url`` cannot be requested (``http://[::1``, a port out of range), or None.

    ``urlsplit`` raises ValueError for such URLs wherever it is called; callers check first and
    say so in one line instead.
    """
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a port that is not a number in range
    except ValueError as exc:
        return f"not a valid URL ({exc})"
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return "not an http(s) URL"
    return None


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


# The monotonic deadline of the attempt in flight (set by Http._send, read by the connections).
_DEADLINE: ContextVar[float | None] = ContextVar("archiver_http_deadline", default=None)


class _HeaderDeadline:
    """Connection mixin: shut the socket down if the headers are not all in by the deadline."""

    def getresponse(self):
        deadline = _DEADLINE.get()
        if deadline is None:
            return super().getresponse()  # type: ignore[misc]  # the connection class's
        timer = threading.Timer(max(0.0, deadline - time.monotonic()), self._cut)
        timer.daemon = True
        timer.start()
        try:
            return super().getresponse()  # type: ignore[misc]
        finally:
            timer.cancel()
            timer.join()  # no timer thread outlives the request

    def _cut(self) -> None:
        sock = getattr(self, "sock", None)
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)


class _HTTPConnection(_HeaderDeadline, urllib3.connection.HTTPConnection):
    pass


class _HTTPSConnection(_HeaderDeadline, urllib3.connection.HTTPSConnection):
    pass


class _HTTPPool(urllib3.connectionpool.HTTPConnectionPool):
    ConnectionCls = _HTTPConnection


class _HTTPSPool(urllib3.connectionpool.HTTPSConnectionPool):
    ConnectionCls = _HTTPSConnection


class _DeadlineAdapter(requests.adapters.HTTPAdapter):
    def init_poolmanager(self, *args, **kwargs):
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {"http": _HTTPPool, "https": _HTTPSPool}


class Http:
    def __init__(self, settings: HttpSettings | None = None, sleep=time.sleep):
        self.settings = settings or HttpSettings()
        self.sleep = sleep
        self.session = requests.Session()
        for scheme in ("http://", "https://"):
            self.session.mount(scheme, _DeadlineAdapter())
        self.session.max_redirects = 10
        headers = {"User-Agent": user_agent(self.settings.contact), "Accept-Encoding": "gzip"}
        headers.update(extra_headers_from_env())
        headers.update(self.settings.extra_headers)
        self.session.headers.update(headers)
        self.requests_made = 0
        self._last_request: dict[str, float] = {}
        self._connection_failures: dict[str, int] = {}  # host -> consecutive failures
        self.failing_hosts: dict[str, str] = {}  # host -> why this run stopped asking it

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
        problem = url_problem(url)
        if problem:
            raise FetchError(f"{url!r}: {problem}")
        host = _host(url)
        if host in self.failing_hosts:
            raise HostFailing(f"host failing: {host} is not asked again in this run "
                              f"({self.failing_hosts[host]})", host)
        attempts = self.settings.retries + 1
        last_problem = "no attempt made"
        for attempt in range(attempts):
            self._pace(url)
            started = time.monotonic()
            try:
                response = self._send(method, url, **kwargs)
            except requests.TooManyRedirects as exc:
                raise FetchError(f"{url}: too many redirects (a redirect loop?)") from exc
            except _Overdue as exc:
                self._give_up(host, "over its deadline")
                raise FetchError(f"{_safe(url)}: {exc}; the server is sending very slowly, try "
                                 "again later (or raise timeout in the config)") from exc
            except (requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError,
                    requests.exceptions.ContentDecodingError, _Truncated) as exc:
                last_problem = _describe(exc)
                log.info("%s %s -> %s (%.2fs, attempt %d)", method, _safe(url), last_problem,
                         time.monotonic() - started, attempt + 1)
                self._connection_failed(host, exc)
                self._backoff(attempt, None)
                continue
            self._connection_failures.pop(host, None)
            log.info("%s %s -> %s (%.2fs, attempt %d)", method, _safe(response.url), response.status_code,
                     time.monotonic() - started, attempt + 1)
            if response.status_code in RETRY_STATUSES and attempt + 1 < attempts:
                last_problem = f"HTTP {response.status_code}"
                self._backoff(attempt, _retry_after_seconds(response.headers.get("Retry-After")))
                continue
            if response.status_code in RETRY_STATUSES:
                self._give_up(host, f"HTTP {response.status_code} after {attempts} attempts")
            if response.status_code >= 400 and response.status_code not in allow_status:
                raise self._status_error(response, url)
            return response
        tries = f"{attempts} attempt" + ("s" if attempts != 1 else "")
        self._give_up(host, f"{last_problem} after {tries}")
        raise FetchError(f"{_safe(url)}: gave up after {tries} ({last_problem}); "
                         "check your network or try again later with a larger --delay")

    def _connection_failed(self, host: str, exc: Exception) -> None:
        """Count a failure; fail at once when retrying cannot help or the host keeps failing."""
        why = _unreachable_reason(exc)
        if why:
            self._give_up(host, why)
            raise Unreachable(f"cannot reach {urlsplit('//' + host).hostname}: {why}; "
                              "are you offline?") from exc
        # Only failures to connect count: a read timeout is a slow server, not an absent one.
        if isinstance(exc, requests.ConnectionError):
            failures = self._connection_failures.get(host, 0) + 1
            self._connection_failures[host] = failures
            if failures >= self.settings.host_failures:
                self._give_up(host, f"{failures} connection failures in a row")
                raise FetchError(f"cannot reach {host}: {_describe(exc)} {failures} times in a "
                                 "row; check your network or try again later") from exc

    def _give_up(self, host: str, why: str) -> None:
        self.failing_hosts.setdefault(host, why)

    def _send(self, method: str, url: str, **kwargs) -> requests.Response:
        self.requests_made += 1
        allowed = self.settings.attempt_deadline()
        deadline = time.monotonic() + allowed
        timeout = (self.settings.connect_timeout, self.settings.read_timeout)
        token = _DEADLINE.set(deadline)
        try:
            response = self.session.request(method, url, timeout=timeout, stream=True, **kwargs)
        except requests.ConnectionError as exc:
            if time.monotonic() >= deadline:  # the header timer cut the connection
                raise _Overdue(f"the response took longer than its {allowed:g}s deadline") from exc
            raise
        finally:
            _DEADLINE.reset(token)
        try:
            response._content = self._read_capped(response, url, deadline)
        finally:
            response.close()
        return response

    def _read_capped(self, response: requests.Response, url: str, deadline: float) -> bytes:
        cap = self.settings.max_bytes
        declared = response.headers.get("Content-Length")
        if declared and declared.isdigit() and int(declared) > cap:
            raise FetchError(f"{url}: response of {int(declared):,} bytes exceeds the "
                             f"{cap:,}-byte cap; raise max_bytes in the config if this is expected")
        chunks, size = [], 0
        for chunk in _chunks(response, deadline, self.settings.attempt_deadline()):
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
            # A JSONDecodeError says where; other ValueErrors (a 5,000-digit number) only what.
            pos = getattr(exc, "pos", None)
            detail = f"{getattr(exc, 'msg', exc)} at byte {pos}" if pos is not None else str(exc)
            raise FetchError(f"{_safe(url)}: the response is not valid JSON ({detail}); try "
                             "again later") from exc


class _Truncated(Exception):
    pass


class _Overdue(Exception):
    pass


def _chunks(response: requests.Response, deadline: float, allowed: float):
    """The decoded body piece by piece as it arrives, checking the deadline between pieces.

    ``read1`` returns whatever one socket read brings (``iter_content`` would block until 64 KiB
    arrived, so a trickle would never reach the check). urllib3's errors become the requests
    errors ``request`` retries.
    """
    raw = response.raw
    while True:
        if time.monotonic() > deadline:
            raise _Overdue(f"the response took longer than its {allowed:g}s deadline")
        try:
            chunk = raw.read1(64 * 1024, decode_content=True)
        except urllib3.exceptions.ReadTimeoutError as exc:
            raise requests.exceptions.ReadTimeout(exc) from exc
        except urllib3.exceptions.DecodeError as exc:
            raise requests.exceptions.ContentDecodingError(exc) from exc
        except (urllib3.exceptions.ProtocolError, urllib3.exceptions.SSLError, OSError) as exc:
            raise requests.exceptions.ChunkedEncodingError(exc) from exc
        if not chunk:
            return
        yield chunk


def _unreachable_reason(exc: BaseException) -> str | None:
    """"name not resolved" / "network unreachable" when that is what lies under ``exc``."""
    seen = set()
    stack = [exc]
    while stack:
        current = stack.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, (socket.gaierror, urllib3.exceptions.NameResolutionError)):
            return "name not resolved"
        if isinstance(current, OSError) and current.errno == errno.ENETUNREACH:
            return "network unreachable"
        linked = [current.__cause__, current.__context__, getattr(current, "reason", None),
                  *getattr(current, "args", ())]
        stack += [item for item in linked if isinstance(item, BaseException)]
    return None


def _host(url: str) -> str:
    return urlsplit(url).netloc.lower()


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
