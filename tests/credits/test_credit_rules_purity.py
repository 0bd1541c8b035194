"""The rules of commitments and budgets are pure (STYLE.md §5): no database, network, clock or randomness."""

import ast
from pathlib import Path

CREDITS = Path(__file__).parents[2] / "src" / "tenantgate" / "credits"
PURE = ["accounts.py", "commitments.py", "budgets.py"]
FORBIDDEN = ("sqlalchemy", "aiohttp", "tenantgate.storage", "asyncio", "random", "time", "secrets",
             "tenantgate.credits.store", "tenantgate.credits._budget_store", "tenantgate.credits._credit_rows")


def imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_the_pure_credit_modules_do_no_io_and_read_no_clock():
    offenders = {
        name: sorted(i for i in imports(CREDITS / name)
                     # ``tenantgate.ledger`` itself re-exports the store: take values from its model
                     if i.split(".")[0] in FORBIDDEN or i.startswith(FORBIDDEN) or i == "tenantgate.ledger")
        for name in PURE
    }
    assert offenders == {name: [] for name in PURE}
    for name in PURE:
        assert ".now(" not in (CREDITS / name).read_text()
