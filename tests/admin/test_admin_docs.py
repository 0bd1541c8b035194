"""docs/admin-api.md lists every admin route with the permission the route table states."""

from pathlib import Path

from tenantgate.admin import ROUTES

DOC = Path(__file__).parents[2] / "docs" / "admin-api.md"


def test_every_route_is_documented_with_its_permission():
    text = DOC.read_text()
    missing = [f"{r.method} {r.path}" for r in ROUTES if f"| `{r.method} {r.path}` | {r.permission} |" not in text]
    assert missing == []
