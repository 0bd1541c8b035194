"""The provider registry: provider name -> how to build a backend for one deployment.

Built-in providers register here exactly as a new one would: one line each.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from tenantgate.providers import azure_openai, local, oci_genai, oci_genai_native, openai
from tenantgate.providers.base import Backend, DeploymentInfo, ProviderAdapter, RequestSigner
from tenantgate.providers.http_backend import HttpBackend
from tenantgate.providers.transport import HttpTransport
from tenantgate.settings import DeploymentSettings, LocalSettings, SettingsError, UpstreamSettings


class UnknownProvider(SettingsError):
    """A deployment names a provider that is not registered (a configuration error)."""


@dataclass(frozen=True, slots=True)
class BackendServices:
    """Process-wide resources a backend may use."""

    transport: HttpTransport
    upstream: UpstreamSettings
    local: LocalSettings


@dataclass(frozen=True, slots=True)
class HttpProvider:
    """A provider spoken over HTTP: its adapter and how it authenticates."""

    adapter: Callable[[DeploymentSettings], ProviderAdapter]
    signer: Callable[[DeploymentSettings], RequestSigner]


@dataclass(frozen=True, slots=True)
class InProcessProvider:
    """A provider that computes in-process (the local engine)."""

    create: Callable[[DeploymentSettings, DeploymentInfo, BackendServices], Backend]


ProviderSpec = HttpProvider | InProcessProvider

PROVIDERS: dict[str, ProviderSpec] = {
    "openai": HttpProvider(openai.OpenAIAdapter, openai.build_signer),
    "azure_openai": HttpProvider(azure_openai.AzureOpenAIAdapter, azure_openai.build_signer),
    "oci_genai": HttpProvider(oci_genai.OciGenAIAdapter, oci_genai.build_signer),
    "oci_genai_native": HttpProvider(
        oci_genai_native.OciGenAINativeAdapter, oci_genai_native.build_signer
    ),
    "local": InProcessProvider(local.create_backend),
}


def build_backend(
    deployment: DeploymentSettings, info: DeploymentInfo, services: BackendServices
) -> Backend:
    """Instantiate the backend for one configured deployment."""
    spec = PROVIDERS.get(deployment.provider)
    if spec is None:
        known = ", ".join(sorted(PROVIDERS))
        raise UnknownProvider(f"unknown provider {deployment.provider!r}; known: {known}")
    if isinstance(spec, InProcessProvider):
        return spec.create(deployment, info, services)
    timeouts = services.upstream.timeouts
    if deployment.timeouts is not None:
        timeouts = deployment.timeouts
    return HttpBackend(
        info=info,
        adapter=spec.adapter(deployment),
        signer=spec.signer(deployment),
        transport=services.transport,
        timeouts=timeouts,
    )
