"""The HTML page in a real headless browser (Debian's chromium + chromium-driver, driven by selenium):
it loads without console errors, needs no network, pans/zooms, and clicking a node shows its details."""

from __future__ import annotations

import re
import shutil

import pytest

from conftest import ROOT

from gradscope.capture import Capture
from gradscope.render.registry import render

DATA = ROOT / "tests" / "data"
INSTALL = "run `make test` (it installs them) or `apt-get install -y chromium chromium-driver`"


@pytest.fixture(scope="module")
def browser():
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        pytest.fail("selenium is not installed: pip install -e '.[test]'")
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    driver_path = shutil.which("chromedriver")
    if not chromium or not driver_path:
        pytest.fail(f"the browser test needs chromium and chromedriver on PATH; {INSTALL}")
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(driver_path), options=options)
    yield driver
    driver.quit()


def _open(browser, capture: Capture, tmp_path, name: str):
    page = tmp_path / f"{name}.html"
    page.write_bytes(render(capture, "html", {}))
    browser.get(page.as_uri())
    browser.get_log("browser")  # start from a clean log for this page
    return page


def _errors(browser) -> list:
    return [e for e in browser.get_log("browser") if e.get("level") == "SEVERE"]


def test_page_loads_and_click_shows_details(browser, tmp_path):
    from selenium.webdriver.common.by import By

    capture = Capture.loads((DATA / "sample_detach.json").read_text())
    page = _open(browser, capture, tmp_path, "detach")
    browser.refresh()
    assert browser.title.startswith("gradscope")
    text = page.read_text()
    assert not re.search(r"https?://(?!www\.w3\.org/)", text) and not re.search(r"\s(src|href)=", text)
    x1 = next(t for t in capture.tensors if t.name == "x1")
    node = browser.find_element(By.ID, f"t{x1.id}")
    node.click()
    details = browser.find_element(By.ID, "details").text
    assert "x1" in details and "detached" in details and f"detach() · line {x1.cut_line}" in details
    assert "[2]" in details and "float32" in details and f"detach.py:{x1.line}" in details
    # hovering another node does not replace a pinned selection; clicking it does
    y = next(t for t in capture.tensors if t.name == "y")
    browser.find_element(By.ID, f"t{y.id}").click()
    details = browser.find_element(By.ID, "details").text
    assert "leaf" in details and f"detach.py:{y.line}" in details
    # zooming changes the view box
    before = browser.execute_script("return document.querySelector('#view svg').getAttribute('viewBox')")
    browser.find_element(By.ID, "zoom-in").click()
    after = browser.execute_script("return document.querySelector('#view svg').getAttribute('viewBox')")
    assert before != after
    assert _errors(browser) == []


def test_hostile_names_do_not_run(browser, tmp_path):
    """A capture whose names are markup: the page shows them as text, no script or element is injected."""
    from selenium.webdriver.common.by import By

    from test_render_escape import IMG, SCRIPT_CLOSE

    capture = Capture.loads((DATA / "sample_no_grad.json").read_text())
    target = capture.tensors[0]
    target.name = IMG + SCRIPT_CLOSE
    _open(browser, capture, tmp_path, "hostile")
    browser.refresh()
    assert browser.execute_script("return document.querySelectorAll('img').length") == 0
    assert browser.execute_script("return document.querySelectorAll('script').length") == 2
    browser.find_element(By.ID, f"t{target.id}").click()
    assert IMG + SCRIPT_CLOSE in browser.find_element(By.ID, "details").text
    assert _errors(browser) == []
