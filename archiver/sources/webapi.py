"""Small helpers the sources share: API roots and error bodies that say something.

Public forum APIs answer "not found" and "private" with a status *and* a body naming the reason
(Reddit: ``{"reason": "private", "error": 403}``; Discourse: ``{"errors": [...], "error_type":
"invalid_access"}``). ``get_json`` reads those bodies so the user gets one clear line instead of a
bare status code.
"""

from __future__ import annotations

import json
from urllib.parse import urlsplit

from archiver.kernel.errors import ArchiverError, FetchError, NotFound
from archiver.kernel.http import Http, HttpStatusError


def root(endpoint: str | None, default: str) -> str:
    """The API root to talk to: ``--endpoint`` when given (mirrors, tests), else the public one."""
    return (endpoint or default).rstrip("/")


def fallback_root(endpoint: str | None, fallback: str | None, public: str, what: str, key: str,
                  failure: Exception) -> str:
    """Where a fallback may go: only to a host the user chose.

    The fallback's own endpoint when configured; the public host only when the user named no
    endpoint at all (default public hosts). With ``--endpoint`` (a mirror, a test server) but no
    fallback endpoint, a fallback to the public site would reach a host nobody asked for: raise
    instead, saying what was skipped and how to allow it.
    """
    if fallback:
        return fallback.rstrip("/")
    if not endpoint:
        return public.rstrip("/")
    raise FetchError(f"{failure}; skipped {what} ({host_of(public)}) because an endpoint was "
                     f"chosen; to allow it, set {key} = \"URL\" under [endpoints] in the config "
                     "or pass --fallback URL")


def host_of(url: str) -> str:
    return urlsplit(url).netloc.lower()


def get_json(http: Http, url: str, params=None, what: str = "item"):
    """GET JSON; an error status becomes ``status_error``'s message."""
    try:
        return http.get_json(url, params=params)
    except HttpStatusError as exc:
        raise status_error(exc, what, _short(url)) from exc


NOT_PUBLIC = "it is not public: it may be private, quarantined or need a login"


def status_error(exc: HttpStatusError, what: str, where: str, missing: str = "check the URL",
                 refused: str = NOT_PUBLIC) -> ArchiverError:
    """The one translation of an API's HTTP error for every source: 404/410 -> NotFound (with
    ``missing``, what to check), 401/403 -> refused (with ``refused``, what to do), any other
    status whose body explains itself -> that reason; each names ``what`` was asked of
    ``where`` and the API's own reason. Otherwise the error as it was (its status and URL)."""
    reason = error_reason(exc.body)
    detail = f"{where}: HTTP {exc.status}" + (f": {reason}" if reason else "")
    if exc.status in (404, 410):
        return NotFound(f"{what} not found ({detail}); {missing}")
    if exc.status in (401, 403):
        return FetchError(f"{what} refused ({detail}); {refused}")
    if reason:
        return FetchError(f"{where}: {reason} (HTTP {exc.status}, {what})")
    return exc


def error_reason(body: str | None) -> str | None:
    """The API's own explanation in a JSON error body, or None.

    Reddit ``{"reason": "private"}``, Discourse ``{"error_type", "errors": [...]}``, Algolia,
    OpenAlex and Semantic Scholar ``{"error": "...", "message": "..."}``.
    """
    body = (body or "").strip()
    if not body.startswith("{"):
        return None
    try:
        data = json.loads(body)
    except ValueError:
        return None
    if not isinstance(data, dict):
        return None
    parts = [data.get(key) for key in ("reason", "error_type", "error", "message")]
    errors = data.get("errors")
    if isinstance(errors, list):
        parts += [str(e) for e in errors[:2]]
    text = [str(p) for p in parts if p and isinstance(p, str)]
    return ": ".join(dict.fromkeys(text)) or None


def _short(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.netloc}{parts.path}"
