"""Regenerate docs/reference/settings.md from the settings model: `python docs/generate_reference.py`."""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import BaseModel

from tenantgate.settings import (
    DeploymentSettings,
    ModelSettings,
    RateLimitRule,
    RateSettings,
    ResidencyRule,
    Settings,
)
from tenantgate.settings.capacity import ReservationRule

OUT = Path(__file__).parent / "reference" / "settings.md"

HEADER = """# Settings reference

Settings come from, highest precedence first: command-line flags (`--host`, `--port`), environment
variables, the settings file (`--config FILE` or `$TENANTGATE_CONFIG`; TOML or YAML), defaults.
Environment variables are the dotted path in upper case with `__` between levels and the prefix
`TENANTGATE_`: `server.port` is `TENANTGATE_SERVER__PORT`. Lists and objects take JSON:
`TENANTGATE_AUTH__API_KEY_SHA256='["…"]'`.

Secrets are never written in settings: a deployment names the environment variable or file that
holds its credential (`credential_env`, `credential_file`), and API keys are listed by SHA-256 digest.
"""


def _rows(model: type[BaseModel], prefix: str = "") -> list[str]:
    rows = []
    for name, field in model.model_fields.items():
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel) and name != "models":
            rows += _rows(annotation, f"{prefix}{name}.")
            continue
        if field.is_required():
            shown = "required"
        else:
            default = field.get_default(call_default_factory=True)
            if isinstance(default, BaseModel):
                default = default.model_dump()
            shown = json.dumps(default, default=str) if default is not None else "—"
        rows.append(f"| `{prefix}{name}` | `{shown}` | {field.description or ''} |")
    return rows


def main() -> None:
    lines = [HEADER, "| setting | default | meaning |", "|---|---|---|", *_rows(Settings), ""]
    lines += ["## The model catalog (`models`)", "",
              "Each entry maps a public model name to deployments tried in order (failover before the",
              "first byte reaches the client).", "", "| field | default | meaning |", "|---|---|---|"]
    lines += [r.replace("| `", "| `models[].", 1) for r in _rows(ModelSettings) if "deployments" not in r]
    lines += [r.replace("| `", "| `models[].deployments[].", 1) for r in _rows(DeploymentSettings)]
    lines += ["", "Provider-specific deployment fields are documented with each provider in",
              "`docs/providers/`.", ""]
    lines += ["## The rate card (`credits.rate_card`)", "",
              "Each line prices a public model, in credits per 1M tokens, from `effective_from` on;",
              "a line with a `region` or `deployment_type` applies only there and wins over one without.",
              "A price change is a new line: past requests keep the price they were settled at. Entries",
              "added through the admin API join these (see docs/credits.md, The rate card).", "",
              "| field | default | meaning |", "|---|---|---|"]
    lines += [r.replace("| `", "| `credits.rate_card[].", 1) for r in _rows(RateSettings)]
    lines += ["", "## Residency rules (`routing.compartments`)", "",
              "Each rule names a compartment path and covers its descendants; the nearest rule wins.",
              "See [routing](../routing.md).", "", "| field | default | meaning |", "|---|---|---|"]
    lines += [r.replace("| `", "| `routing.compartments[].", 1) for r in _rows(ResidencyRule)]
    lines += ["", "## Reservations (`models[].deployments[].reservations`)", "",
              "Slots of a dedicated deployment owned by a compartment and its descendants; the nearest",
              "reservation wins, and the rest of `concurrent_requests_max` is shared. See",
              "[routing](../routing.md#dedicated-capacity).", "",
              "| field | default | meaning |", "|---|---|---|"]
    lines += [r.replace("| `", "| `models[].deployments[].reservations[].", 1)
              for r in _rows(ReservationRule)]
    lines += ["", "## Rate limit rules (`rate_limits.rules`)", "",
              "Each rule counts the calls of a key, user, compartment or model over a sliding 60-second",
              "window (and those in progress); a call over any rule that applies gets 429. See",
              "[rate limits](../rate-limits.md).", "", "| field | default | meaning |", "|---|---|---|"]
    lines += [r.replace("| `", "| `rate_limits.rules[].", 1) for r in _rows(RateLimitRule)]
    lines += [""]
    OUT.write_text("\n".join(lines))


if __name__ == "__main__":
    main()
