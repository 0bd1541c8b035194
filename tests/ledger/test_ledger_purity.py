"""The ledger's decisions are pure (STYLE.md §5): they import no database, clock or randomness."""

import ast
from pathlib import Path

LEDGER = Path(__file__).parents[2] / "src" / "tenantgate" / "ledger"
PURE = [
    "model.py",
    "results.py",
    "rules.py",
    "_balances.py",
    "_idempotency.py",
    "_batch.py",
    "invariants.py",
    "_rows.py",
]
FORBIDDEN = (
    "sqlalchemy",
    "tenantgate.storage",
    "asyncio",
    "random",
    "time",
    "secrets",
    "tenantgate.ledger.store",
)


def imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_the_pure_ledger_modules_do_no_io_and_read_no_clock():
    offenders = {
        name: sorted(
            i for i in imports(LEDGER / name) if i.split(".")[0] in FORBIDDEN or i.startswith(FORBIDDEN)
        )
        for name in PURE
    }
    assert offenders == {name: [] for name in PURE}
    for name in PURE:
        assert ".now(" not in (LEDGER / name).read_text()
