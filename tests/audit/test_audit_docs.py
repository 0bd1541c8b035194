"""docs/audit.md stays true: its hash recipe recomputes real hashes, and it names every break kind."""

import json
import re
import typing
from pathlib import Path

from audit_factories import build_chain, make_entry

from tenantgate.audit.chain import BreakKind
from tenantgate.cli.audit import _event_json

DOC = Path(__file__).parents[2] / "docs" / "audit.md"


def test_the_documented_recipe_recomputes_event_hashes_from_list_json():
    recipe = re.search(r"```python\n(.*?)```", DOC.read_text(), flags=re.S)
    assert recipe is not None
    namespace: dict[str, object] = {}
    exec(recipe.group(1), namespace)  # noqa: S102 - our own documentation
    for event in build_chain([make_entry(1, actor_name="zoë"), make_entry(2)]):
        as_listed = json.loads(json.dumps(_event_json(event)))  # what `audit list --json` prints
        assert namespace["event_hash"](as_listed) == event.hash  # type: ignore[operator]


def test_every_break_kind_is_documented():
    text = DOC.read_text()
    assert all(f"`{kind}`" in text for kind in typing.get_args(BreakKind))
