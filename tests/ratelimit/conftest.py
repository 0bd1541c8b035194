"""Fixtures of the rate-limit suite: one fake upstream per module, reset per test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from ratelimit_gateways import UPSTREAM_KEY

from tenantgate.testing import FakeUpstream


@pytest.fixture(scope="module")
def upstream() -> Iterator[FakeUpstream]:
    with FakeUpstream(api_keys=[UPSTREAM_KEY], max_recorded=None) as fake:
        yield fake


@pytest.fixture
def fake(upstream: FakeUpstream) -> FakeUpstream:
    upstream.reset()
    return upstream
