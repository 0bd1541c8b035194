"""Entra ID tokens for Azure OpenAI: static from env, or from a file that rotates."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tenantgate.errors import UpstreamAuthFailed
from tenantgate.providers.auth.entra_id import EntraIdSigner, RotatingFileToken, entra_id_signer
from tenantgate.providers.base import UpstreamRequest

REQUEST = UpstreamRequest(method="POST", url="https://x/openai", headers={"a": "b"}, body=b"{}")


class FakeMonotonic:
    def __init__(self) -> None:
        self.now_s = 1000.0

    def __call__(self) -> float:
        return self.now_s


def _rewrite(path: Path, text: str) -> None:
    """Replace the file the way token writers do, so the stamp changes even within one tick."""
    tmp = path.with_suffix(".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def test_env_token_is_sent_as_bearer(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AZ_TOKEN", "eyJ.env")

    signed = entra_id_signer("AZ_TOKEN", None).sign(REQUEST)

    assert signed.headers == {"a": "b", "authorization": "Bearer eyJ.env"}


def test_missing_env_token_is_a_configuration_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AZ_TOKEN", raising=False)

    with pytest.raises(ValueError, match="AZ_TOKEN"):
        entra_id_signer("AZ_TOKEN", None)


def test_no_credential_reference_is_a_configuration_error() -> None:
    with pytest.raises(ValueError, match="credential_env or credential_file"):
        entra_id_signer(None, None)


def test_file_token_is_reread_after_rotation_once_the_interval_passed(tmp_path: Path) -> None:
    path = tmp_path / "token"
    path.write_text("first\n")
    clock = FakeMonotonic()
    signer = EntraIdSigner(token_file=RotatingFileToken(str(path), monotonic=clock))
    assert signer.sign(REQUEST).headers["authorization"] == "Bearer first"

    _rewrite(path, "second")
    clock.now_s += 1.0
    assert signer.sign(REQUEST).headers["authorization"] == "Bearer first"  # no stat yet

    clock.now_s += 5.0
    assert signer.sign(REQUEST).headers["authorization"] == "Bearer second"


def test_unchanged_file_is_not_read_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "token"
    path.write_text("tok")
    clock = FakeMonotonic()
    token = RotatingFileToken(str(path), monotonic=clock)
    assert token.current() == "tok"
    reads: list[Path] = []
    original = Path.read_text

    def counting_read(self: Path, *args: object, **kwargs: object) -> str:
        reads.append(self)
        return original(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(Path, "read_text", counting_read)
    clock.now_s += 60
    assert token.current() == "tok"
    assert reads == []


def test_a_briefly_missing_file_keeps_the_last_token(tmp_path: Path) -> None:
    path = tmp_path / "token"
    path.write_text("tok")
    clock = FakeMonotonic()
    token = RotatingFileToken(str(path), monotonic=clock)
    assert token.current() == "tok"

    path.unlink()
    clock.now_s += 10

    assert token.current() == "tok"


def test_no_token_file_yet_fails_the_request_not_the_startup(tmp_path: Path) -> None:
    signer = entra_id_signer(None, str(tmp_path / "not-yet-written"))

    with pytest.raises(UpstreamAuthFailed):
        signer.sign(REQUEST)


def test_repr_hides_the_token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AZ_TOKEN", "eyJ.secret")

    assert "eyJ.secret" not in repr(entra_id_signer("AZ_TOKEN", None))
