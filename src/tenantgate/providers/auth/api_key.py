"""Static-secret authentication: a bearer token or a named header carrying the key."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import ClassVar

from tenantgate.providers.base import UpstreamRequest


@dataclass(frozen=True, slots=True)
class HeaderKeySigner:
    """Adds ``<header>: <prefix><secret>``; e.g. ``Authorization: Bearer sk-…`` or ``api-key: …``."""

    may_block: ClassVar[bool] = False
    secret: str
    header: str = "authorization"
    prefix: str = "Bearer "

    def sign(self, request: UpstreamRequest) -> UpstreamRequest:
        headers = dict(request.headers)
        headers[self.header] = f"{self.prefix}{self.secret}"
        return replace(request, headers=headers)

    def __repr__(self) -> str:  # never show the secret, even in a traceback
        return f"HeaderKeySigner(header={self.header!r}, secret=***)"


@dataclass(frozen=True, slots=True)
class NoSigner:
    """For upstreams that need no credential (a local vLLM or Ollama without auth)."""

    may_block: ClassVar[bool] = False

    def sign(self, request: UpstreamRequest) -> UpstreamRequest:
        return request
