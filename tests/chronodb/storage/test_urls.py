"""PostgreSQL URLs: recognised, read, and never shown with their password; libpq's
key=value strings refused rather than taken for file names."""

from __future__ import annotations

from pathlib import Path

import pytest

from chronodb import ChronoDB
from chronodb.errors import ConfigError
from chronodb.storage.urls import is_postgres_url, parse, redact


@pytest.mark.parametrize(
    ("location", "expected"),
    [
        ("postgresql://u@h/db", True),
        ("postgres://u@h/db", True),
        ("POSTGRESQL://h/db", True),
        ("shop.db", False),
        (":memory:", False),
        ("file:shop.db?mode=ro", False),
        ("postgresql.db", False),
    ],
)
def test_postgres_urls_are_told_from_sqlite_paths(location: str, expected: bool) -> None:
    assert is_postgres_url(location) is expected


def test_a_url_is_read_into_its_parts() -> None:
    url = parse("postgresql://ann:s3cret@db.example:6543/shop?sslmode=require")
    assert (url.host, url.port, url.database, url.user) == ("db.example", 6543, "shop", "ann")
    assert url.where == "shop on db.example:6543"
    defaults = parse("postgres:///shop")
    assert (defaults.host, defaults.port, defaults.user) == ("localhost", 5432, None)


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://ann:s3cret@h:5432/db",
        "postgresql://ann@h/db?password=s3cret&sslmode=require",
        "postgres://ann:s3cret@h1,h2/db",
    ],
)
def test_the_password_never_appears(url: str) -> None:
    parsed = parse(url)
    for text in (redact(url), str(parsed), repr(parsed), parsed.where):
        assert "s3cret" not in text
    assert "***" in redact(url)


def test_a_url_that_is_not_one_is_a_config_error_without_the_password() -> None:
    with pytest.raises(ConfigError) as info:
        parse("postgresql://ann:s3cret@h:notaport/db")
    assert "s3cret" not in str(info.value)
    assert "postgresql://ann:***@h:notaport/db" in str(info.value)


@pytest.mark.parametrize(
    "conninfo",
    [
        "user=postgres dbname=app host=127.0.0.1 port=5432",
        "host=db dbname='my app' password=s3cret",
        "  dbname = app   user = me ",
    ],
)
def test_a_libpq_connection_string_is_refused_without_its_password(
    conninfo: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError, match="postgresql://") as caught:
        ChronoDB(conninfo)
    assert "s3cret" not in str(caught.value)
    assert list(tmp_path.iterdir()) == []  # no file was made


@pytest.mark.parametrize("name", ["notes=2024.db", "a=b", "plain.db"])
def test_file_names_with_an_equals_sign_still_name_files(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    with ChronoDB(name) as db:
        db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY)")
    assert (tmp_path / name).exists()
