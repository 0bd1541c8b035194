"""Tenantgate's shipped test kit: fakes that stand in for the world at the upstream edge."""

from tenantgate.testing.fake_upstream import FakeUpstream, Fault, FaultKind, RecordedRequest

__all__ = ["FakeUpstream", "Fault", "FaultKind", "RecordedRequest"]
