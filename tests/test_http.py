"""The HTTP client against a real loopback server: politeness, retries and faults."""

from __future__ import annotations

import errno
import json
import socket
import threading
import time

import pytest
from pytest_httpserver import HTTPServer
from werkzeug.wrappers import Response

from archiver.kernel.errors import FetchError
from archiver.kernel.http import (
    ChallengeError,
    HostFailing,
    Http,
    HttpSettings,
    HttpStatusError,
    Unreachable,
)


class Sleeps(list):
    """Records requested sleeps instead of sleeping, so retry tests run instantly."""

    def __call__(self, seconds: float) -> None:
        self.append(round(seconds, 2))


def client(sleeps: Sleeps | None = None, **settings) -> Http:
    base = {"delay": 0, "backoff": 0.5, "retries": 3, "read_timeout": 2, **settings}
    return Http(HttpSettings(**base), sleep=sleeps if sleeps is not None else Sleeps())


def sequence(*responses):
    """A handler answering with each response in turn, then repeating the last."""
    queue = list(responses)

    def handler(request):
        return queue.pop(0) if len(queue) > 1 else queue[0]

    return handler


OK = Response(json.dumps({"data": {"ok": True}}), content_type="application/json")


def test_429_honours_retry_after_seconds(httpserver):
    httpserver.expect_request("/api").respond_with_handler(
        sequence(Response("slow down", status=429, headers={"Retry-After": "7"}), OK))
    sleeps = Sleeps()
    assert client(sleeps).get_json(httpserver.url_for("/api")) == {"data": {"ok": True}}
    assert sleeps == [7]


def test_503_retry_after_http_date(httpserver):
    when = time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(time.time() + 30))
    httpserver.expect_request("/api").respond_with_handler(
        sequence(Response("busy", status=503, headers={"Retry-After": when}), OK))
    sleeps = Sleeps()
    client(sleeps).get_json(httpserver.url_for("/api"))
    assert len(sleeps) == 1 and 25 <= sleeps[0] <= 31


def test_429_storm_without_retry_after_backs_off_exponentially_then_fails(httpserver):
    httpserver.expect_request("/api").respond_with_response(Response("no", status=429))
    sleeps = Sleeps()
    with pytest.raises(HttpStatusError, match="HTTP 429") as info:
        client(sleeps).get_json(httpserver.url_for("/api"))
    assert info.value.status == 429
    assert sleeps == [0.5, 1.0, 2.0]


def test_absurd_retry_after_is_a_clear_error(httpserver):
    httpserver.expect_request("/api").respond_with_response(
        Response("no", status=429, headers={"Retry-After": "86400"}))
    with pytest.raises(FetchError, match="asked us to wait 86400s"):
        client().get_json(httpserver.url_for("/api"))


def test_5xx_burst_then_success(httpserver):
    httpserver.expect_request("/api").respond_with_handler(
        sequence(Response("x", status=502), Response("x", status=500), OK))
    http = client()
    assert http.get_json(httpserver.url_for("/api"))["data"]["ok"]
    assert http.requests_made == 3


def test_404_is_not_retried(httpserver):
    httpserver.expect_request("/api").respond_with_response(Response("gone", status=404))
    http = client()
    with pytest.raises(HttpStatusError, match="404"):
        http.get_json(httpserver.url_for("/api"))
    assert http.requests_made == 1


def test_timeout_is_retried(httpserver):
    calls = []

    def handler(request):
        calls.append(1)
        if len(calls) == 1:
            time.sleep(1.0)
        return OK

    httpserver.expect_request("/api").respond_with_handler(handler)
    assert client(read_timeout=0.3).get_json(httpserver.url_for("/api"))["data"]["ok"]
    assert len(calls) >= 2  # the single-threaded server may still be busy with the first


def test_timeouts_forever_end_in_a_clear_error(httpserver):
    def handler(request):
        time.sleep(0.5)
        return OK

    httpserver.expect_request("/api").respond_with_handler(handler)
    with pytest.raises(FetchError, match="gave up after 2 attempts \\(timed out\\)"):
        client(read_timeout=0.2, retries=1).get_json(httpserver.url_for("/api"))


def test_connection_refused_is_a_clear_error():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(FetchError, match="connection failed"):
        client(retries=1).get_json(f"http://127.0.0.1:{port}/api")


class RawServer:
    """A loopback server speaking raw HTTP, for faults werkzeug won't produce."""

    def __init__(self, replies: list[bytes]):
        self.replies = replies
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}/api"
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        for reply in self.replies:
            conn, _ = self.sock.accept()
            conn.recv(65536)
            conn.sendall(reply)
            conn.close()  # mid-body when the reply promised more
        self.sock.close()


def http_reply(body: bytes, length: int | None = None, ctype: str = "application/json") -> bytes:
    length = len(body) if length is None else length
    return (f"HTTP/1.1 200 OK\r\nContent-Type: {ctype}\r\nContent-Length: {length}\r\n"
            "Connection: close\r\n\r\n").encode() + body


def test_truncated_body_is_retried():
    good = json.dumps({"data": {"ok": True}}).encode()
    server = RawServer([http_reply(good[:9], length=len(good)), http_reply(good)])
    assert client().get_json(server.url) == {"data": {"ok": True}}


def test_connection_reset_mid_body_every_time_is_a_clear_error():
    good = json.dumps({"data": {"ok": True}}).encode()
    server = RawServer([http_reply(good[:5], length=len(good))] * 3)
    with pytest.raises(FetchError, match="body truncated"):
        client(retries=2).get_json(server.url)


def test_invalid_json_is_a_clear_error():
    server = RawServer([http_reply(b'{"data": {"ok": tru')])
    with pytest.raises(FetchError, match="not valid JSON"):
        client(retries=0).get_json(server.url)


def test_html_challenge_page_where_json_expected(httpserver):
    httpserver.expect_request("/api").respond_with_data(
        "<!DOCTYPE html><html><title>Just a moment...</title></html>", content_type="text/html")
    with pytest.raises(ChallengeError, match="HTML page where JSON was expected"):
        client().get_json(httpserver.url_for("/api"))


def test_invalid_utf8_does_not_crash(httpserver):
    httpserver.expect_request("/api").respond_with_data(
        b'{"data": {"text": "caf\xe9 \xff"}}', content_type="application/json; charset=utf-8")
    data = client().get_json(httpserver.url_for("/api"))
    assert data["data"]["text"].startswith("caf")


def test_enormous_body_hits_the_size_cap(httpserver):
    httpserver.expect_request("/api").respond_with_data(b"x" * 50_000)
    with pytest.raises(FetchError, match="exceeds the 10,000-byte cap"):
        client(max_bytes=10_000).get_text(httpserver.url_for("/api"))


def test_redirect_loop_is_a_clear_error(httpserver):
    httpserver.expect_request("/a").respond_with_response(
        Response("", status=302, headers={"Location": "/b"}))
    httpserver.expect_request("/b").respond_with_response(
        Response("", status=302, headers={"Location": "/a"}))
    with pytest.raises(FetchError, match="redirect loop"):
        client().get_text(httpserver.url_for("/a"))


def test_307_to_another_host_keeps_the_post_body(httpserver):
    other = HTTPServer(host="127.0.0.1")
    other.start()
    try:
        received = []

        def bot_host(request):
            received.append(json.loads(request.get_data()))
            return OK

        other.expect_request("/graphql", method="POST").respond_with_handler(bot_host)
        # httpserver listens on "localhost"; the bot host is 127.0.0.1: another host name.
        httpserver.expect_request("/graphql", method="POST").respond_with_response(
            Response("", status=307, headers={"Location": other.url_for("/graphql")}))
        result = client().post_json(httpserver.url_for("/graphql"), {"query": "{ ok }"})
        assert result == {"data": {"ok": True}}
        assert received == [{"query": "{ ok }"}]
    finally:
        other.clear()
        other.stop()


def test_user_agent_contact_and_extra_header(httpserver, monkeypatch):
    monkeypatch.setenv("ARCHIVER_CONTACT", "me@lab.example")
    monkeypatch.setenv("ARCHIVER_HEADER", "X-Archive-Token: abc123")
    seen = {}

    def handler(request):
        seen.update(request.headers)
        return OK

    httpserver.expect_request("/api").respond_with_handler(handler)
    client(extra_headers={"X-Other": "1"}).get_json(httpserver.url_for("/api"))
    assert seen["User-Agent"].startswith("archiver/") and "me@lab.example" in seen["User-Agent"]
    assert seen["X-Archive-Token"] == "abc123" and seen["X-Other"] == "1"


def test_minimum_delay_between_requests_to_one_host(httpserver):
    httpserver.expect_request("/api").respond_with_response(OK)
    sleeps = Sleeps()
    http = client(sleeps, delay=2.0)
    http.get_json(httpserver.url_for("/api"))
    http.get_json(httpserver.url_for("/api"))
    assert len(sleeps) == 1 and 1.5 < sleeps[0] <= 2.0


def test_the_suite_cannot_reach_the_internet():
    with pytest.raises(FetchError, match="connection failed"):
        client(retries=0).get_json("http://93.184.215.14/")  # never leaves this machine


BODY_HEAD = (b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
             b"Content-Length: 100000\r\nConnection: close\r\n\r\n")


class TrickleServer:
    """``head`` at once, then one more byte every ``every`` seconds until the client hangs up
    (or ``limit`` seconds pass): each read succeeds well within any read timeout."""

    def __init__(self, head: bytes = BODY_HEAD, every: float = 0.05, limit: float = 60.0):
        self.head, self.every, self.limit = head, every, limit
        self.stop = threading.Event()
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(1)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}/api"
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        conn, _ = self.sock.accept()
        with conn:
            conn.recv(65536)
            conn.sendall(self.head)
            ends = time.monotonic() + self.limit
            try:
                while time.monotonic() < ends and not self.stop.wait(self.every):
                    conn.sendall(b" ")
            except OSError:
                pass  # the client gave up: what the test wants

    def close(self):
        self.stop.set()
        self.thread.join(5)
        self.sock.close()


def test_a_trickling_server_hits_the_overall_deadline():
    server = TrickleServer()
    http = client(read_timeout=2, deadline=0.5, retries=3)
    started = time.monotonic()
    try:
        with pytest.raises(FetchError, match="longer than its 0.5s deadline"):
            http.get_json(server.url)
    finally:
        server.close()
    # Without the deadline it reads until the server stops (60 s); with it, 0.5 s plus at most
    # one read timeout, and no retry (a retry would only trickle again).
    assert time.monotonic() - started < 10
    assert http.requests_made == 1


def test_trickled_headers_hit_the_overall_deadline_too():
    # http.client reads the status line and headers itself, line by line: a header trickled a
    # byte at a time never trips the read timeout, so a timer cuts the socket at the deadline.
    server = TrickleServer(head=b"HTTP/1.1 200 OK\r\nX-Slow: ")
    http = client(read_timeout=2, deadline=0.5, retries=3)
    started = time.monotonic()
    try:
        with pytest.raises(FetchError, match="longer than its 0.5s deadline"):
            http.get_json(server.url)
    finally:
        server.close()
    assert time.monotonic() - started < 10
    assert http.requests_made == 1
    assert not [t for t in threading.enumerate() if isinstance(t, threading.Timer)]


def test_the_default_deadline_is_a_few_times_the_timeout():
    assert HttpSettings(connect_timeout=10, read_timeout=5).attempt_deadline() == 25
    assert HttpSettings(read_timeout=5, deadline=7).attempt_deadline() == 7


def test_an_unresolvable_name_fails_at_once_without_retries():
    sleeps = Sleeps()
    http = client(sleeps, retries=4)
    with pytest.raises(Unreachable) as info:
        http.get_json("http://archiver-test.invalid/api")  # RFC 2606: never resolves
    assert str(info.value) == ("cannot reach archiver-test.invalid: name not resolved; "
                               "are you offline?")
    assert http.requests_made == 1 and sleeps == []
    # The rest of the run does not ask again.
    with pytest.raises(HostFailing, match="host failing: archiver-test.invalid is not asked again"):
        http.get_json("http://archiver-test.invalid/other")
    assert http.requests_made == 1


def test_a_network_unreachable_error_is_not_retried(monkeypatch):
    def unreachable(self, address):
        raise OSError(errno.ENETUNREACH, "Network is unreachable")

    monkeypatch.setattr(socket.socket, "connect", unreachable)
    http = client(retries=4)
    with pytest.raises(Unreachable, match="cannot reach 127.0.0.1: network unreachable"):
        http.get_json("http://127.0.0.1:9/api")
    assert http.requests_made == 1


def test_consecutive_connection_failures_stop_asking_the_host(httpserver):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    sleeps = Sleeps()
    http = client(sleeps, retries=10, host_failures=3)
    with pytest.raises(FetchError, match="connection failed 3 times in a row"):
        http.get_json(f"http://127.0.0.1:{port}/api")
    assert http.requests_made == 3
    with pytest.raises(HostFailing):
        http.get_json(f"http://127.0.0.1:{port}/next")
    assert http.requests_made == 3
    # Other hosts are still asked.
    httpserver.expect_request("/api").respond_with_response(OK)
    assert http.get_json(httpserver.url_for("/api"))["data"]["ok"]


def test_a_host_whose_retries_ran_out_is_skipped_for_the_rest_of_the_run(httpserver):
    httpserver.expect_request("/api").respond_with_response(Response("down", status=503))
    http = client(retries=2)
    with pytest.raises(HttpStatusError, match="HTTP 503"):
        http.get_json(httpserver.url_for("/api"))
    assert http.requests_made == 3
    with pytest.raises(HostFailing, match="HTTP 503 after 3 attempts"):
        http.get_json(httpserver.url_for("/api"))
    assert http.requests_made == 3


def test_a_404_does_not_mark_the_host_failing(httpserver):
    httpserver.expect_request("/gone").respond_with_response(Response("gone", status=404))
    httpserver.expect_request("/api").respond_with_response(OK)
    http = client()
    for _ in range(5):
        with pytest.raises(HttpStatusError):
            http.get_json(httpserver.url_for("/gone"))
    assert http.get_json(httpserver.url_for("/api"))["data"]["ok"]


def test_a_url_urlsplit_cannot_parse_is_a_fetch_error_not_a_crash():
    # Such URLs arrive from upstream data too (a feed entry's link), not only from the user.
    http = client()
    with pytest.raises(FetchError, match=r"'http://\[::1/x': not a valid URL \(Invalid IPv6 URL\)"):
        http.get_json("http://[::1/x")
    assert http.requests_made == 0


def test_json_that_parses_into_a_value_error_is_a_clear_error():
    """json.loads raises a plain ValueError (not a JSONDecodeError, no .msg/.pos) for a number
    too long to convert; the message used to fail on exc.msg."""
    server = RawServer([http_reply(b'{"karma": ' + b"9" * 5000 + b"}")])
    with pytest.raises(FetchError, match="not valid JSON .*Exceeds the limit"):
        client(retries=0).get_json(server.url)
