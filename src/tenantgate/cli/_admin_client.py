"""The CLI's HTTP client for a running gateway's admin API: one JSON call at a time.

Standard library only (``urllib.request``), so the CLI needs nothing the gateway does not
already ship. Every call has a timeout; the key travels in the ``Authorization`` header
and nowhere else: it is never part of a URL, an error message or a ``repr``, and
redirects are refused so the header cannot follow one to another host. An error answer in
OpenAI's shape becomes the ``tenantgate.errors`` class of its ``code``, so the commands
fail exactly as they do on a local database.
"""

from __future__ import annotations

import asyncio
import http.client
import json
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from email.message import Message
from typing import IO, Any

from tenantgate import __version__
from tenantgate.errors import TenantgateError, all_error_classes

TIMEOUT_S = 10.0
_ERRORS_BY_CODE: dict[str, type[TenantgateError]] = {cls.code: cls for cls in all_error_classes()}


class RemoteGatewayError(Exception):
    """The gateway could not be asked, or did not answer as its admin API does."""

    def __init__(self, message: str) -> None:
        self.message = message
        super().__init__(message)


class GatewayUnreachable(RemoteGatewayError):
    """Nothing answered at the server URL in time (refused, unknown host, timeout, TLS)."""


class UnexpectedAnswer(RemoteGatewayError):
    """Something answered, but not with the admin API's JSON (a proxy page, another service)."""


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """Refuse redirects: following one would send the bearer key wherever it points."""

    def redirect_request(
        self, req: urllib.request.Request, fp: IO[bytes], code: int, msg: str,
        headers: Message, newurl: str,
    ) -> urllib.request.Request | None:
        raise UnexpectedAnswer(f"the gateway answered {code} redirecting to {newurl}; "
                               "give that URL as --server instead")


_OPENER = urllib.request.build_opener(_NoRedirects)


def check_server_url(url: str) -> str:
    """The URL without a trailing slash, if it is an http(s) URL with a host."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise RemoteGatewayError(f"--server must be an http:// or https:// URL, not {url!r}")
    return url.rstrip("/")


def error_from_body(status: int, raw: bytes) -> TenantgateError | None:
    """The error an OpenAI-shaped error body describes, or None if the body is not one."""
    try:
        error = json.loads(raw)["error"]
        message, code, param = error["message"], error.get("code"), error.get("param")
    except (ValueError, KeyError, TypeError):
        return None
    if not isinstance(message, str):
        return None
    cls = _ERRORS_BY_CODE.get(code) if isinstance(code, str) else None
    if cls is None:
        return TenantgateError(message or f"the gateway answered {status}")
    return cls(message, param=param if isinstance(param, str) else None)


@dataclass(frozen=True, slots=True)
class AdminClient:
    """Calls ``base_url``'s admin API with a bearer key (kept out of every repr and message)."""

    base_url: str
    token: str = field(repr=False)
    timeout_s: float = TIMEOUT_S

    async def call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        """Send one request and return its decoded JSON; errors raise (see the module docstring).

        The blocking call runs in a worker thread so the command's event loop stays free.
        """
        return await asyncio.to_thread(self._call, method, path, body)

    def _call(self, method: str, path: str, body: dict[str, Any] | None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(  # noqa: S310 (check_server_url allows http and https only)
            self.base_url + path, data=data, method=method, headers={
                "authorization": f"Bearer {self.token}", "accept": "application/json",
                "content-type": "application/json", "user-agent": f"tenantgate-cli/{__version__}",
            })
        try:
            with _OPENER.open(request, timeout=self.timeout_s) as answer:
                raw: bytes = answer.read()
        except urllib.error.HTTPError as exc:
            with exc:
                raw = exc.read()
            raise self._failure(exc.code, raw) from None
        except (TimeoutError, urllib.error.URLError, ConnectionError) as exc:
            raise self._unreachable(exc) from None
        except http.client.HTTPException:
            raise UnexpectedAnswer(f"{self.base_url} did not answer HTTP properly; "
                                   "is it a Tenantgate gateway?") from None
        try:
            return json.loads(raw)
        except ValueError:
            raise UnexpectedAnswer(f"{self.base_url} did not answer with JSON; "
                                   "is it a Tenantgate gateway?") from None

    def _failure(self, status: int, raw: bytes) -> Exception:
        found = error_from_body(status, raw)
        if found is not None:
            return found
        return UnexpectedAnswer(f"{self.base_url} answered HTTP {status} without an error body; "
                                "is it a Tenantgate gateway?")

    def _unreachable(self, exc: OSError) -> GatewayUnreachable:
        reason = exc.reason if isinstance(exc, urllib.error.URLError) else exc
        if isinstance(reason, TimeoutError):
            return GatewayUnreachable(
                f"the gateway at {self.base_url} did not answer within {self.timeout_s:g} s")
        return GatewayUnreachable(f"cannot reach the gateway at {self.base_url}: {reason}")


def quote(segment: str) -> str:
    """An id as one path segment, whatever it contains."""
    return urllib.parse.quote(segment, safe="")
