"""Project rules kept by a test rather than by memory (see STYLE.md §4)."""

import ast
from pathlib import Path

SRC = Path(__file__).parents[1] / "src" / "tenantgate"
MODULE_LINES_MAX = 600
FUNCTION_LINES_MAX = 80
# Reasoned exceptions: name -> why.
LONG_FUNCTIONS: dict[str, str] = {}


def _modules():
    return [p for p in SRC.rglob("*.py") if "migrations/versions" not in str(p)]


def test_modules_stay_small():
    too_big = {str(p.relative_to(SRC)): n for p in _modules() if (n := len(p.read_text().splitlines())) > MODULE_LINES_MAX}
    assert too_big == {}


def test_functions_stay_short():
    long = []
    for path in _modules():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                length = (node.end_lineno or node.lineno) - node.lineno + 1
                if length > FUNCTION_LINES_MAX and node.name not in LONG_FUNCTIONS:
                    long.append(f"{path.relative_to(SRC)}:{node.name} ({length} lines)")
    assert long == []


def test_only_settings_reads_the_environment_for_configuration():
    allowed = {"settings", "testing"}
    offenders = []
    for path in _modules():
        rel = path.relative_to(SRC)
        if rel.parts[0] in allowed or rel.name in allowed:
            continue
        if "os.environ" in path.read_text() or "os.getenv" in path.read_text():
            offenders.append(str(rel))
    assert offenders == []


def test_provider_names_do_not_leak_outside_providers():
    names = ["azure_openai", "oci_genai"]
    offenders = []
    for path in _modules():
        rel = path.relative_to(SRC)
        if rel.parts[0] in ("providers", "testing"):
            continue
        text = path.read_text()
        offenders += [f"{rel}: {name}" for name in names if name in text]
    assert offenders == []
