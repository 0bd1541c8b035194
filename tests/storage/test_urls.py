import pytest

from tenantgate.storage import InvalidDatabaseUrl, normalise_url, render_url_safely


@pytest.mark.parametrize(
    ("given", "expected_driver"),
    [
        ("sqlite:///gate.db", "sqlite+aiosqlite"),
        ("sqlite+aiosqlite:///gate.db", "sqlite+aiosqlite"),
        ("postgresql://u@db/gate", "postgresql+asyncpg"),
        ("postgres://u@db/gate", "postgresql+asyncpg"),
        ("postgresql+asyncpg://u@db/gate", "postgresql+asyncpg"),
    ],
)
def test_normalise_url_pins_each_dialect_to_its_async_driver(given, expected_driver):
    assert normalise_url(given).drivername == expected_driver


def test_normalise_url_keeps_path_host_and_credentials():
    url = normalise_url("postgresql://alice:s3cret@db.internal:6543/gate?ssl=require")
    assert (url.username, url.password, url.host, url.port, url.database) == (
        "alice",
        "s3cret",
        "db.internal",
        6543,
        "gate",
    )
    assert url.query == {"ssl": "require"}


@pytest.mark.parametrize("given", ["mysql://u:pw@h/d", "postgresql+psycopg2://u:pw@h/d", "not a url"])
def test_normalise_url_rejects_other_dialects_without_echoing_the_url(given):
    with pytest.raises(InvalidDatabaseUrl) as caught:
        normalise_url(given)
    assert "pw" not in str(caught.value)
    assert caught.value.code == "invalid_database_url"


def test_render_url_safely_masks_the_password():
    rendered = render_url_safely("postgresql+asyncpg://alice:s3cret@db/gate")
    assert "s3cret" not in rendered
    assert rendered == "postgresql+asyncpg://alice:***@db/gate"


def test_render_url_safely_never_echoes_an_unparseable_url():
    assert render_url_safely("::s3cret::") == "<unparseable database URL>"
