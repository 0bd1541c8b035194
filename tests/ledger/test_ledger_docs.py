"""docs/ledger.md stays true: it lists every result code, with its value, in precedence order."""

import re
from pathlib import Path

import pytest

from tenantgate.ledger import CreateAccountResult, CreateTransferResult

DOC = Path(__file__).parents[2] / "docs" / "ledger.md"


def documented(section: str) -> list[tuple[str, int]]:
    text = DOC.read_text().split(f"### {section}\n", 1)[1].split("\n## ", 1)[0]
    return [
        (code, int(value)) for code, value in re.findall(r"^\| `([a-z_]+)` \| (\d+) \|", text, flags=re.M)
    ]


@pytest.mark.parametrize(
    ("section", "enum"),
    [("Transfer results", CreateTransferResult), ("Account results", CreateAccountResult)],
)
def test_every_result_code_is_documented_in_precedence_order(section, enum):
    assert documented(section) == [(member.code, member.value) for member in enum]
