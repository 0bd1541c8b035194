"""Microsoft Entra ID bearer tokens for Azure OpenAI, read from an env var or a rotating file.

Azure OpenAI accepts ``Authorization: Bearer <token>`` with a token for the
``https://cognitiveservices.azure.com/.default`` scope
(https://learn.microsoft.com/en-us/azure/ai-services/openai/how-to/managed-identity).
The gateway does not run an OAuth flow itself: something outside it (AKS workload identity's
token exchange sidecar, ``az account get-access-token`` in a cron job, a secrets agent) keeps
a fresh token in a file, and the file is replaced before the token expires. So the file is
re-read when it changes, checked with one ``stat`` at most every few seconds; between
checks, signing a request does no I/O at all.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from tenantgate.errors import UpstreamAuthFailed
from tenantgate.providers.base import UpstreamRequest
from tenantgate.settings import read_secret

RECHECK_INTERVAL_S = 5.0

_FileStamp = tuple[int, int, int]  # (st_ino, st_mtime_ns, st_size)


class RotatingFileToken:
    """A token file, cached by inode/mtime/size and re-checked at most every ``recheck_interval_s``.

    Kubernetes projected volumes rotate by swapping a symlink, so the inode changes even
    when the mtime resolution would hide a quick rewrite; ``stat`` follows the link.
    """

    __slots__ = ("_checked_at_s", "_monotonic", "_path", "_recheck_interval_s", "_stamp", "_token")

    def __init__(
        self,
        path: str,
        *,
        recheck_interval_s: float = RECHECK_INTERVAL_S,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._path = Path(path).expanduser()
        self._recheck_interval_s = recheck_interval_s
        self._monotonic = monotonic
        self._stamp: _FileStamp | None = None
        self._token: str | None = None
        self._checked_at_s: float | None = None

    def current(self) -> str | None:
        """The token now in the file (None if the file is missing or empty)."""
        now_s = self._monotonic()
        if self._checked_at_s is not None and now_s - self._checked_at_s < self._recheck_interval_s:
            return self._token
        self._checked_at_s = now_s
        try:
            info = os.stat(self._path)
        except OSError:
            # Keep serving the last good token: a rotation briefly removes the file.
            return self._token
        stamp = (info.st_ino, info.st_mtime_ns, info.st_size)
        if stamp != self._stamp:
            try:
                text = self._path.read_text(encoding="utf-8").strip()
            except OSError:
                return self._token
            self._stamp = stamp
            self._token = text or None
        return self._token


class EntraIdSigner:
    """Adds ``Authorization: Bearer <Entra ID token>`` from a static value or a rotating file."""

    __slots__ = ("_file", "_static")
    may_block = False  # at most one stat() every few seconds

    def __init__(
        self, *, static_token: str | None = None, token_file: RotatingFileToken | None = None
    ) -> None:
        self._static = static_token
        self._file = token_file

    def sign(self, request: UpstreamRequest) -> UpstreamRequest:
        token = self._file.current() if self._file is not None else self._static
        if not token:
            raise UpstreamAuthFailed("No Microsoft Entra ID token is available for Azure OpenAI.")
        headers = dict(request.headers)
        headers["authorization"] = f"Bearer {token}"
        return replace(request, headers=headers)

    def __repr__(self) -> str:  # never show the token, even in a traceback
        return "EntraIdSigner(token=***)"


def entra_id_signer(credential_env: str | None, credential_file: str | None) -> EntraIdSigner:
    """The signer for a deployment's credential reference: the env var wins, as in read_secret.

    A static token must be there at start-up; a token file may appear later (it is written by
    a sidecar that can start after the gateway), so its absence is reported per request.
    """
    if credential_env:
        token = read_secret(credential_env, None)
        if not token:
            raise ValueError(
                f"the environment variable {credential_env} holding the token is unset"
            )
        return EntraIdSigner(static_token=token)
    if credential_file:
        return EntraIdSigner(token_file=RotatingFileToken(credential_file))
    raise ValueError("auth: entra_id needs credential_env or credential_file")
