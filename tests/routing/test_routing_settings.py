"""Routing settings: what a deployment and a model may say about routing, and what is refused."""

from __future__ import annotations

import pytest

from tenantgate.routing.residency import split_path
from tenantgate.settings import SettingsError, load_settings

DEPLOYMENT = {"provider": "openai", "model": "gpt-4o"}


def _models(**model):
    return load_settings(None, models=[{"name": "m", "deployments": [DEPLOYMENT], **model}]).models[0]


def test_a_single_strategy_may_be_written_as_a_string():
    assert _models(routing={"strategy": "weighted"}).routing.strategy == ["weighted"]
    assert _models().routing.strategy == ["priority"]


def test_unknown_strategies_are_refused():
    with pytest.raises(SettingsError, match="strategy"):
        _models(routing={"strategy": ["fastest"]})


def test_dedicated_capacity_needs_a_size():
    with pytest.raises(SettingsError, match="dedicated"):
        _models(deployments=[{**DEPLOYMENT, "capacity_class": "dedicated"}])
    sized = _models(deployments=[{**DEPLOYMENT, "capacity_class": "dedicated", "concurrent_requests_max": 8}])
    assert sized.deployments[0].concurrent_requests_max == 8


def test_routing_fields_are_not_passed_to_the_provider_as_its_options():
    deployment = _models(deployments=[{**DEPLOYMENT, "residency": ["eu"], "weight": 3, "cloud": "azure",
                                       "api_version": "x"}]).deployments[0]
    assert deployment.provider_options() == {"api_version": "x"}
    assert (deployment.residency, deployment.weight, deployment.cloud) == (["eu"], 3, "azure")


@pytest.mark.parametrize(("text", "path"), [("Finance:EU", ("Finance", "EU")), ("Finance/EU", ("Finance", "EU")),
                                             ("", ()), ("/", ())])
def test_compartment_paths_accept_both_separators(text, path):
    assert split_path(text) == path
