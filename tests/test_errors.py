import re
from pathlib import Path

from tenantgate.errors import all_error_classes

DOC = Path(__file__).parents[1] / "docs" / "reference" / "errors.md"


def test_every_error_code_is_unique():
    codes = [cls.code for cls in all_error_classes()]
    assert len(codes) == len(set(codes))


def test_every_error_code_is_documented_and_no_stale_codes_remain():
    documented = set(re.findall(r"^### `([a-z_]+)`$", DOC.read_text(), flags=re.M))
    assert documented == {cls.code for cls in all_error_classes()}


def test_every_error_renders_openai_shape():
    for cls in all_error_classes():
        body = cls("m", param="p").to_body()
        assert set(body) == {"error"}
        assert body["error"] == {"message": "m", "type": cls.error_type, "param": "p", "code": cls.code}
        assert 400 <= cls.status <= 599
