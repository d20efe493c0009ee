"""The pages in a real browser (Playwright driving Debian's Chromium): time travel with the
slider, a row's history, a diff, a restore, a live change from another process, exports.

Screenshots of each page go to ``$CHRONODB_SCREENSHOTS`` (a directory), else the test's
temporary directory. These tests never skip: CI installs Chromium (``.ci/run``).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from chronodb import ChronoDB
from chronodb.server import BackgroundServer

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    assert chromium, "Chromium is needed for the browser tests: apt-get install -y chromium"
    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        yield launched
        launched.close()


@pytest.fixture
def shots(tmp_path: Path) -> Path:
    where = Path(os.environ.get("CHRONODB_SCREENSHOTS") or tmp_path / "shots")
    where.mkdir(parents=True, exist_ok=True)
    return where


@pytest.fixture
def server(shop: Path) -> Iterator[BackgroundServer]:
    with ChronoDB(shop, user="ada") as db:  # more history, for the slider
        for i in range(4, 24):
            db.execute(
                "INSERT INTO orders (id, user_id, total, status) VALUES (?, ?, ?, ?)",
                [i, 1 + i % 2, 10.0 * i, "new" if i % 3 else "paid"],
            )
    with BackgroundServer(shop, port=0, poll_interval=0.02) as running:
        yield running


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1200, "height": 800}, accept_downloads=True)
    opened = context.new_page()
    yield opened
    context.close()


def test_slider_moves_the_table_through_time(
    page: Page, server: BackgroundServer, txs: list[int], shots: Path
):
    page.goto(server.url + "/")
    expect(page.get_by_role("link", name="orders", exact=True)).to_be_visible()
    page.screenshot(path=shots / "home.png", full_page=True)
    page.get_by_role("link", name="orders", exact=True).click()
    expect(page.locator("tbody tr")).to_have_count(22)
    # The keyboard steps one transaction at a time; the page follows and the URL says where.
    slider = page.get_by_label("Transaction to show the database at")
    slider.focus()
    for _ in range(20):  # back past the 20 inserts
        page.keyboard.press("ArrowLeft")
    page.wait_for_url(re.compile(rf"as_of={txs[6]}\b"))
    expect(page.locator("tr[data-key='1'] td").nth(3)).to_have_text("shipped")
    expect(page.locator("tbody tr")).to_have_count(2)
    for _ in range(3):  # the slider keeps the focus: on past the delete and two updates
        page.keyboard.press("ArrowLeft")
    page.wait_for_url(re.compile(rf"as_of={txs[3]}\b"))
    expect(page.locator("tr[data-key='1'] td").nth(3)).to_have_text("new")
    expect(page.locator("tbody tr")).to_have_count(3)
    expect(page.locator("p.past")).to_contain_text(f"transaction {txs[3]}")
    page.screenshot(path=shots / "table-as-of.png", full_page=True)


def test_slider_ticks_describe_each_transaction(page: Page, server: BackgroundServer):
    page.goto(server.url + "/tables/orders")
    tick = page.locator(".ticks a").first
    assert re.match(r"transaction \d+ · \d{4}-\d\d-\d\dT.* · setup", tick.get_attribute("title"))
    label = page.locator("#slider-label")
    page.get_by_label("Transaction to show the database at").focus()
    page.keyboard.press("Home")
    expect(label).to_contain_text("setup")


def test_row_history_and_restore(page: Page, server: BackgroundServer, txs: list[int], shots: Path):
    page.goto(f"{server.url}/tables/orders?as_of={txs[3]}")
    page.locator("tr[data-key='1'] a").first.click()
    expect(page.get_by_role("heading", name="orders row 1")).to_be_visible()
    expect(page.locator("li.version")).to_have_count(2)
    expect(page.locator("li.version.later")).to_have_count(1)  # after the point: dimmed
    expect(page.locator("li.version tr.changed del")).to_have_text("new")
    page.screenshot(path=shots / "row-history.png", full_page=True)
    page.get_by_role("link", name="Restore this row to this point…").click()
    expect(page.get_by_role("heading")).to_contain_text("Restore orders row 1")
    page.get_by_role("button", name="Restore").click()
    expect(page.locator("p.ok")).to_contain_text("Restored in transaction")
    expect(page.locator("li.version")).to_have_count(3)
    expect(page.locator("table.record")).to_contain_text("new")


def test_diff_between_two_points(page: Page, server: BackgroundServer, txs: list[int], shots: Path):
    page.goto(f"{server.url}/tables/orders/diff")
    page.get_by_label("From").fill(str(txs[3]))
    page.get_by_label("to", exact=True).fill(str(txs[6]))  # the delete
    page.get_by_role("button", name="Compare").click()
    expect(page.locator(".counts")).to_have_text("0 inserted · 1 deleted · 1 updated")
    expect(page.locator("tr.updated ins")).to_have_text("shipped")
    page.screenshot(path=shots / "diff.png", full_page=True)


def test_live_change_from_another_process(
    page: Page, server: BackgroundServer, shop: Path, shots: Path
):
    page.goto(server.url + "/tables/orders")
    page.get_by_label("Live").check()
    page.wait_for_timeout(300)  # subscribed
    write_elsewhere(
        shop,
        "INSERT INTO orders VALUES (99, 2, 1.5, 'live')",
        "DELETE FROM orders WHERE id = 2",
    )
    expect(page.locator("tr[data-key='99']")).to_be_visible(timeout=10_000)
    expect(page.locator("tr[data-key='99']")).to_have_class(re.compile("flash"))
    expect(page.locator("tr[data-key='2']")).to_have_count(0, timeout=10_000)
    page.screenshot(path=shots / "table-live.png", full_page=True)


def test_live_row_page_shows_a_new_version(page: Page, server: BackgroundServer, shop: Path):
    page.goto(server.url + "/tables/orders/rows/2")
    page.get_by_label("Live").check()
    page.wait_for_timeout(300)
    write_elsewhere(shop, "UPDATE orders SET status = 'paid' WHERE id = 2")
    expect(page.locator("li.version")).to_have_count(2, timeout=10_000)
    expect(page.locator("li.version").last).to_have_class(re.compile("flash"))
    expect(page.locator("table.record")).to_contain_text("paid")


def write_elsewhere(path: Path, *statements: str) -> None:
    """Run ``statements`` in another process, as another program writing the file would."""
    script = (
        "import sys; from chronodb import ChronoDB\n"
        "with ChronoDB(sys.argv[1], user='other') as db:\n"
        "    for statement in sys.argv[2:]:\n"
        "        db.execute(statement)\n"
    )
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    command = [sys.executable, "-c", script, str(path), *statements]
    subprocess.run(command, check=True, env=env, timeout=60)


def test_csv_export_honours_as_of(page: Page, server: BackgroundServer, txs: list[int]):
    page.goto(f"{server.url}/tables/orders?as_of={txs[3]}")
    with page.expect_download() as info:
        page.get_by_role("link", name="CSV").click()
    lines = Path(info.value.path()).read_text().splitlines()
    assert lines == ["id,user_id,total,status", "1,1,25.0,new", "2,1,90.5,new", "3,2,12.0,new"]


def test_sql_page_runs_and_marks_errors(page: Page, server: BackgroundServer, shots: Path):
    page.goto(server.url + "/sql")
    editor = page.get_by_label("Statement")
    editor.fill("SELECT id, status FROM orders FOR SYSTEM_TIME ALL WHERE id = 1")
    editor.press("Control+Enter")
    expect(page.locator("table.rows tbody tr")).to_have_count(2)
    assert "csrf" not in page.url  # a read is a GET whose URL can be shared
    page.get_by_label("Statement").fill("SELECT * FROM orders WHERE nosuch = 1")
    page.get_by_role("button", name="Run (read)").click()
    expect(page.locator("pre.marked mark")).to_have_text("nosuch")
    page.screenshot(path=shots / "sql-error.png", full_page=True)


def test_verify_now(page: Page, server: BackgroundServer):
    page.goto(server.url + "/")
    page.get_by_role("button", name="Verify now").click()
    expect(page.locator("p.ok")).to_contain_text("The ledger verifies")


def test_narrow_screen_keeps_the_table_reachable(
    browser: Browser, server: BackgroundServer, shots: Path
):
    context = browser.new_context(viewport={"width": 380, "height": 800})
    narrow = context.new_page()
    narrow.goto(server.url + "/tables/orders")
    narrow.screenshot(path=shots / "table-narrow.png", full_page=True)
    width = narrow.evaluate("document.documentElement.scrollWidth")
    assert width <= 380  # the rows scroll inside their box, the page does not
    context.close()
