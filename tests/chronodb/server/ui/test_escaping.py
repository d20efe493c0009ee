"""Nothing from the database reaches a page unescaped: names and values with markup."""

from __future__ import annotations

from pathlib import Path

from starlette.testclient import TestClient

from chronodb import ChronoDB
from chronodb.server import create_app
from chronodb.server.ui.render import segment

EVIL = "<script>alert(1)</script>"


def test_markup_in_table_column_and_values_is_escaped(backend: str):
    path = backend  # a file, then a PostgreSQL database
    with ChronoDB(path) as db:
        db.execute(f'CREATE TABLE "{EVIL}" (id INTEGER PRIMARY KEY, "<b>c</b>" TEXT)')
        db.execute(f'INSERT INTO "{EVIL}" VALUES (1, ?)', [EVIL])
        db.execute(f'UPDATE "{EVIL}" SET "<b>c</b>" = ?', ['"><img src=x onerror=alert(2)>'])
    with TestClient(create_app(path)) as client:
        table = "/tables/" + segment(EVIL)
        pages = [
            "/",
            table,
            table + "?_facet=%3Cb%3Ec%3C%2Fb%3E",
            table + "/rows/1",
            table + "/diff?from=0",
            "/diff?from=0",
            "/sql?sql=" + segment(f'SELECT * FROM "{EVIL}"'),
            "/sql?sql=" + segment(EVIL),
        ]
        for url in pages:
            html = client.get(url, headers={"accept": "text/html"}).text
            assert "<script>alert" not in html and "<img" not in html and "<b>c" not in html, url
            assert "&lt;script&gt;" in html, url
        assert client.get(table + ".json").json()["rows"][0]["<b>c</b>"].startswith('">')


def test_pages_forbid_inline_scripts(tmp_path: Path):
    path = tmp_path / "a.db"
    ChronoDB(path).close()
    with TestClient(create_app(path)) as client:
        policy = client.get("/", headers={"accept": "text/html"}).headers["content-security-policy"]
        assert "default-src 'self'" in policy and "unsafe-inline" not in policy
