"""Fixtures of the end-to-end suite: one fake upstream and one OCI identity per module.

Each module starts its own gateway process (module-scoped, a start costs a second or two)
from the helpers in ``gateway_harness``; tests reset the fake's record and faults instead
of restarting anything.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import openai
import pytest
from gateway_harness import (
    AZURE_MODEL_NAMES,
    KEY_ID,
    OPENAPI,
    UPSTREAM_KEY,
    OciIdentity,
    load_components,
    write_oci_identity,
)

from tenantgate.testing import FakeUpstream
from tenantgate.testing.gateway_process import RunningGateway


@pytest.fixture(scope="module")
def oci_identity(tmp_path_factory: pytest.TempPathFactory) -> OciIdentity:
    """An OCI config file and user key, fresh for the module."""
    return write_oci_identity(tmp_path_factory.mktemp("oci"))


@pytest.fixture(scope="module")
def upstream(oci_identity: OciIdentity) -> Iterator[FakeUpstream]:
    """The module's fake upstream, verifying OCI signatures with the identity's public key."""
    with FakeUpstream(
        api_keys=[UPSTREAM_KEY],
        oci_public_keys={KEY_ID: oci_identity.public_pem},
        azure_model_names=AZURE_MODEL_NAMES,
    ) as fake:
        yield fake


@pytest.fixture
def fake(upstream: FakeUpstream) -> FakeUpstream:
    """The fake upstream with an empty record and no pending faults."""
    upstream.reset()
    return upstream


@pytest.fixture(scope="module")
def openapi() -> dict[str, Any]:
    """OpenAI's component schemas; the spec is checked out beside the repository in CI."""
    assert OPENAPI.exists(), f"the OpenAI OpenAPI spec is missing at {OPENAPI}"
    return load_components(OPENAPI)


@pytest.fixture(scope="module")
def http(gateway: RunningGateway) -> Iterator[httpx.Client]:
    """Raw HTTP to the module's gateway (each module defines its own ``gateway``)."""
    with httpx.Client(base_url=gateway.base_url, timeout=10) as client:
        yield client


@pytest.fixture(scope="module")
def client(gateway: RunningGateway) -> Iterator[openai.OpenAI]:
    """The official SDK on the module's gateway, without retries (every attempt is asserted)."""
    with openai.OpenAI(
        base_url=gateway.openai_base_url, api_key="unused", max_retries=0, timeout=10
    ) as sdk:
        yield sdk
