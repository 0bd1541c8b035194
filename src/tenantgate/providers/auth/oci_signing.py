"""OCI IAM request signing: the ``oci`` SDK's signers applied to our UpstreamRequest.

OCI authenticates every IAM call with a draft-cavage HTTP signature over ``date``,
``(request-target)``, ``host`` and, for bodies, ``content-length``, ``content-type`` and
``x-content-sha256`` (https://docs.oracle.com/en-us/iaas/Content/API/Concepts/signingrequests.htm).
Rather than re-implement key loading, session tokens and principal token refresh, we hand a
``requests``-style prepared request to the SDK's own signer (it is a ``requests.auth.AuthBase``)
and copy the headers it set, exactly as Oracle's ``oci-openai`` package does for httpx.

The ``oci`` package takes about half a second to import, so it is imported here only, and
only when the first request is signed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any, Literal

from tenantgate.errors import UpstreamAuthFailed
from tenantgate.providers.base import UpstreamRequest

OciAuthMode = Literal["oci_config", "instance_principal", "resource_principal"]
OciSignerFactory = Callable[[], Any]

DEFAULT_CONFIG_FILE = "~/.oci/config"
DEFAULT_PROFILE = "DEFAULT"


class OciRequestSigner:
    """Signs requests with an ``oci`` SDK signer built on first use (no I/O at start-up).

    Principal signers talk to the instance metadata service or read the resource-principal
    environment when built, so building them lazily keeps configuration loading (and tests)
    free of that I/O.
    """

    __slots__ = ("_factory", "_signer", "may_block")

    def __init__(self, factory: OciSignerFactory, *, may_block: bool = False) -> None:
        self._factory = factory
        self._signer: Any = None
        self.may_block = may_block

    def sign(self, request: UpstreamRequest) -> UpstreamRequest:
        """Return ``request`` with the OCI signature headers for its exact body bytes."""
        from oci._vendor import requests  # the SDK's vendored copy: no extra dependency

        if self._signer is None:
            try:
                self._signer = self._factory()
            except Exception as exc:  # the SDK raises many unrelated types for bad config
                raise UpstreamAuthFailed(
                    f"Could not load the OCI credentials: {type(exc).__name__}: {exc}"
                ) from exc
        prepared = requests.Request(
            request.method, request.url, headers=dict(request.headers), data=request.body
        ).prepare()
        self._signer(prepared)
        headers = {str(k).lower(): str(v) for k, v in prepared.headers.items()}
        return replace(request, headers=headers)

    def __repr__(self) -> str:
        return "OciRequestSigner(***)"


def config_file_signer(config_file: str, profile: str) -> OciSignerFactory:
    """An API-key (user principal) signer from an OCI CLI config file and profile."""

    def build() -> Any:
        import oci.config
        import oci.signer

        config = oci.config.from_file(config_file, profile)
        if config.get("security_token_file"):
            return _session_token_signer(config)
        return oci.signer.Signer.from_config(config)

    return build


def _session_token_signer(config: dict[str, Any]) -> Any:
    """``oci session authenticate`` profiles sign with a session token instead of a user key."""
    import oci.auth.signers
    import oci.signer

    token = Path(config["security_token_file"]).expanduser().read_text(encoding="utf-8").strip()
    key = oci.signer.load_private_key_from_file(config["key_file"], config.get("pass_phrase"))
    return oci.auth.signers.SecurityTokenSigner(token, key)


def instance_principal_signer() -> Any:
    """Credentials of the compute instance the gateway runs on (instance principal)."""
    import oci.auth.signers

    return oci.auth.signers.InstancePrincipalsSecurityTokenSigner()


def resource_principal_signer() -> Any:
    """Credentials of the OCI resource (function, container instance, job) running the gateway."""
    import oci.auth.signers

    return oci.auth.signers.get_resource_principals_signer()


def build_oci_signer(
    mode: OciAuthMode, *, config_file: str = DEFAULT_CONFIG_FILE, profile: str = DEFAULT_PROFILE
) -> OciRequestSigner:
    """The request signer for one of the IAM authentication modes."""
    if mode == "oci_config":
        return OciRequestSigner(config_file_signer(config_file, profile))
    # Principal signers fetch and refresh tokens over blocking HTTP inside sign().
    if mode == "instance_principal":
        return OciRequestSigner(instance_principal_signer, may_block=True)
    return OciRequestSigner(resource_principal_signer, may_block=True)
