"""OCI Generative AI's OpenAI-compatible endpoint: OpenAI bodies, OCI URLs and OCI credentials.

The base URL is ``https://inference.generativeai.{region}.oci.oraclecloud.com/openai/v1``
(https://docs.oracle.com/en-us/iaas/Content/generative-ai/openai-compatible-api.htm). Two
kinds of credential are accepted: a Generative AI API key sent as a bearer token
(https://docs.oracle.com/en-us/iaas/Content/generative-ai/api-keys.htm), or an OCI IAM
request signature (user key from the CLI config, instance principal, resource principal).
IAM-signed calls must name the compartment to bill and authorize in a header; Oracle's own
client (``oci-openai``, ``_build_headers``) sends it as both ``opc-compartment-id`` and the
older ``CompartmentId``, and so do we.
"""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import BaseModel, ConfigDict, model_validator

from tenantgate.errors import TenantgateError
from tenantgate.providers import openai_wire
from tenantgate.providers._oci_errors import map_oci_error
from tenantgate.providers.auth.api_key import HeaderKeySigner
from tenantgate.providers.auth.oci_signing import (
    DEFAULT_CONFIG_FILE,
    DEFAULT_PROFILE,
    build_oci_signer,
)
from tenantgate.providers.base import (
    RequestSigner,
    UpstreamResponse,
)
from tenantgate.settings import DeploymentSettings, SettingsError, read_secret

BASE_URL_TEMPLATE = "https://inference.generativeai.{region}.oci.oraclecloud.com/openai/v1"
COMPARTMENT_HEADERS = ("opc-compartment-id", "compartmentid")


class OciGenAIOptions(BaseModel):
    """Provider-specific deployment fields of ``oci_genai``."""

    model_config = ConfigDict(extra="forbid")

    auth: Literal["api_key", "oci_config", "instance_principal", "resource_principal"] = "api_key"
    compartment_id: str | None = None
    config_file: str = DEFAULT_CONFIG_FILE
    profile: str = DEFAULT_PROFILE

    @model_validator(mode="after")
    def _iam_needs_compartment(self) -> OciGenAIOptions:
        if self.auth != "api_key" and not self.compartment_id:
            raise ValueError(f"auth: {self.auth} needs compartment_id (the compartment OCID)")
        return self


def oci_base_url(deployment: DeploymentSettings, template: str) -> str:
    """``base_url`` when configured, else the regional endpoint built from ``region``."""
    if deployment.base_url:
        return deployment.base_url.rstrip("/")
    if not deployment.region:
        raise SettingsError(
            f"{deployment.provider} deployment {deployment.model!r} needs region "
            "(e.g. us-chicago-1) or base_url"
        )
    return template.format(region=deployment.region)


class OciGenAIAdapter(openai_wire.OpenAIWireAdapter):
    """Translation for the OpenAI-compatible endpoint: the body passes through unchanged."""

    name: ClassVar[str] = "oci_genai"

    def __init__(self, deployment: DeploymentSettings) -> None:
        options = OciGenAIOptions.model_validate(deployment.provider_options())
        compartment = options.compartment_id
        headers = dict.fromkeys(COMPARTMENT_HEADERS, compartment) if compartment else None
        super().__init__(oci_base_url(deployment, BASE_URL_TEMPLATE), deployment.model, headers)

    def map_error(self, response: UpstreamResponse) -> TenantgateError:
        return map_oci_error(response, self.name)


def build_signer(deployment: DeploymentSettings) -> RequestSigner:
    """A bearer API key, or an OCI IAM signer for the configured principal."""
    options = OciGenAIOptions.model_validate(deployment.provider_options())
    if options.auth == "api_key":
        secret = read_secret(deployment.credential_env, deployment.credential_file)
        if not secret:
            raise SettingsError(
                f"oci_genai deployment {deployment.model!r} has no API key: set credential_env "
                "or credential_file, or choose an IAM auth mode"
            )
        return HeaderKeySigner(secret)
    return build_oci_signer(options.auth, config_file=options.config_file, profile=options.profile)
