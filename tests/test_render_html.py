"""The HTML page in a real headless browser (Debian's chromium + chromium-driver, driven by selenium),
with real clicks and keys: it loads without console errors and needs no network; its graph is the
SVG's (the DOT the page assembles equals `to_dot`); modules open and close in place; search finds
names and globs; clicking a parameter highlights its paths to the loss and says where they are cut;
edges explain themselves; hover follows the pointer until a click pins, and Escape unpins."""

from __future__ import annotations

import re
import shutil
import time

import pytest

from conftest import ROOT, SCRIPTS, run_gradscope

from gradscope.capture import Capture
from gradscope.render import drawing as drawing_mod
from gradscope.render.dot import to_dot
from gradscope.render.registry import render

DATA = ROOT / "tests" / "data"
MODELS = SCRIPTS / "models"
INSTALL = "run `make test` (it installs them) or `apt-get install -y chromium chromium-driver`"
PAGE_LIMIT = 5 * 1024 * 1024


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
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1400,900"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(driver_path), options=options)
    yield driver
    driver.quit()


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    """The ResNet with a frozen stem and the GAN step, traced once: {name: (capture, page path)}."""
    folder = tmp_path_factory.mktemp("models")
    out = {}
    for name in ("resnet_frozen_stem", "gan_step"):
        capture, page = folder / f"{name}.json", folder / f"{name}.html"
        proc = run_gradscope("trace", "--quiet", "--json", capture, "-o", page, MODELS / f"{name}.py")
        assert proc.returncode == 0, proc.stderr
        out[name] = (Capture.loads(capture.read_text()), page)
    return out


def _load(browser, page):
    browser.get(page.as_uri())
    _wait_ready(browser)


def _wait_ready(browser, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = browser.execute_script("return document.body.getAttribute('data-state')")
        if state == "ready":
            return
        assert state != "error", browser.find_element("id", "status").text
        time.sleep(0.05)
    pytest.fail("the page did not finish laying out")


def _open(browser, capture: Capture, tmp_path, name: str, options=None):
    page = tmp_path / f"{name}.html"
    page.write_bytes(render(capture, "html", options or {}))
    _load(browser, page)
    return page


def _errors(browser) -> list:
    return [e for e in browser.get_log("browser") if e.get("level") == "SEVERE"]


def _info(browser) -> str:
    return browser.find_element("id", "info").text


def _vid(capture: Capture, name: str) -> str:
    t = next(t for t in capture.tensors if name in (t.name, t.param_name))
    return f"t{t.id}"


def _norm_shown(capture: Capture, name: str) -> str:
    """What the details panel must say of a module's (or a parameter's) gradient norm after the latest
    recorded backward: the module view's number, tested against torch there."""
    from gradscope.analyse.norms import latest_norm, norm_history

    params = [p for m in capture.modules if m["name"] == name or m["name"].startswith(name + ".") for p in m["params"]]
    params = params or [t.id for t in capture.tensors if t.param_name == name]
    got = latest_norm(norm_history(capture), params)
    steps = [r for r in capture.roots if r.step is not None]
    n, root = next((n, r) for n, r in enumerate(steps, 1) if r.step == got.call)
    name = capture.tensor(root.tensor).name
    return f"grad norm after backward #{n} {name} (line {root.line})\n{got.value:.3g}"


def _internal_ids(text: str) -> list[str]:
    return re.findall(r"\b[tnm]\d+(?:r\d+)?\b", text)


def test_page_loads_and_click_shows_details(browser, tmp_path):
    from selenium.webdriver.common.by import By

    capture = Capture.loads((DATA / "sample_detach.json").read_text())
    page = _open(browser, capture, tmp_path, "detach")
    assert browser.title.startswith("gradscope")
    text = page.read_text()
    assert "default-src 'none'" in text and not re.search(r"\s(src|href)=", text)
    assert browser.execute_script("return performance.getEntriesByType('resource').length") == 0  # no fetch
    assert browser.execute_script("return document.querySelectorAll('svg title').length") == 0  # no id tooltips
    x1 = next(t for t in capture.tensors if t.name == "x1")
    browser.find_element(By.ID, f"t{x1.id}").click()
    details = _info(browser)
    assert "x1" in details and "detached" in details and f"detach() · line {x1.cut_line}" in details
    assert "[2]" in details and "float32" in details and f"detach.py:{x1.line}" in details
    source = (ROOT / "samples" / "detach.py").read_text().splitlines()[x1.line - 1].strip()
    assert f"source\n{source}" in details or f"source {source}" in details, details  # the line's own text
    assert _internal_ids(details) == []
    # pinned: hovering another node does not replace the details; Escape unpins, then hover does
    y = next(t for t in capture.tensors if t.name == "y")
    from selenium.webdriver.common.action_chains import ActionChains

    ActionChains(browser).move_to_element(browser.find_element(By.ID, f"t{y.id}")).perform()
    assert _info(browser).startswith("x1")
    ActionChains(browser).send_keys("\ue00c").perform()  # Escape
    ActionChains(browser).move_to_element(browser.find_element(By.ID, f"t{x1.id}")).perform()
    ActionChains(browser).move_to_element(browser.find_element(By.ID, f"t{y.id}")).perform()
    assert _info(browser).startswith("y") and f"detach.py:{y.line}" in _info(browser)
    # zoom: the button and the keyboard zoom, `f` fits again
    zoom = "return gradscopePage.zoom()"
    before = browser.execute_script(zoom)
    browser.find_element(By.ID, "zoom-in").click()
    after = browser.execute_script(zoom)
    ActionChains(browser).send_keys("-").send_keys("-").perform()
    assert before < after and browser.execute_script(zoom) < after
    ActionChains(browser).send_keys("f").perform()
    assert browser.execute_script(zoom) == pytest.approx(before)
    ActionChains(browser).send_keys("/").perform()
    assert browser.switch_to.active_element.get_attribute("id") == "search"
    assert _errors(browser) == []


def test_hostile_names_do_not_run(browser, tmp_path):
    """A capture whose names are markup: the page shows them as text, no script or element is injected."""
    from selenium.webdriver.common.by import By

    from test_render_escape import IMG, SCRIPT_CLOSE

    capture = Capture.loads((DATA / "sample_no_grad.json").read_text())
    target = capture.tensors[0]
    target.name = IMG + SCRIPT_CLOSE
    _open(browser, capture, tmp_path, "hostile")
    assert browser.execute_script("return document.querySelectorAll('img').length") == 0
    assert browser.execute_script("return document.querySelectorAll('script').length") == 2
    browser.find_element(By.ID, f"t{target.id}").click()
    assert IMG + SCRIPT_CLOSE in _info(browser)
    search = browser.find_element(By.ID, "search")
    search.send_keys(IMG)
    assert browser.find_element(By.ID, "search-count").text == "1 match"
    assert _errors(browser) == []


def test_page_draws_the_svgs_graph(browser, tmp_path, models):
    """The DOT the page assembles for its first state is exactly the one the SVG output is drawn from, at
    the auto depth and at --module-depth 1 (where the ResNet's `model` mixes a frozen stem and trained
    blocks: both open it, box its parts, and leave frozen parameters and cuts drawn)."""
    captures = {name: Capture.loads((DATA / f"sample_{name}.json").read_text()) for name in ("detach", "training_loop")}
    captures.update({name: capture for name, (capture, _) in models.items()})
    for name, capture in captures.items():
        for options in ({}, {"module_depth": 1}) if name in models else ({},):
            _open(browser, capture, tmp_path, name, options)
            page_dot = browser.execute_script("return gradscopePage.dot()")
            assert page_dot == to_dot(drawing_mod.build(capture, options), legend=False), (name, options)
    assert _errors(browser) == []



def test_modules_open_and_close_in_place(browser, models):
    from selenium.webdriver.common.by import By

    capture, page = models["resnet_frozen_stem"]
    assert page.stat().st_size < PAGE_LIMIT
    _load(browser, page)
    conv = _vid(capture, "model.blocks.1.conv1.weight")
    assert browser.find_elements(By.ID, conv)
    # clicking the frame of blocks.1 closes it into one box that says what is inside
    frame = browser.find_element(By.CSS_SELECTOR, 'g.cluster[data-module="model.blocks.1"] > text')
    frame.click()
    _wait_ready(browser)
    assert not browser.find_elements(By.ID, conv)
    box = browser.find_element(By.CSS_SELECTOR, "g.gs_node.gs_module")
    from selenium.webdriver.common.action_chains import ActionChains

    ActionChains(browser).move_to_element(box).perform()
    details = _info(browser)
    assert "model.blocks.1" in details and "BasicBlock" in details
    assert re.search(r"trainable parameters\n6\b", details) and re.search(r"frozen parameters\n0\b", details)
    assert _norm_shown(capture, "model.blocks.1") in details  # its 6 parameters' norm together
    assert "model.blocks.1" in browser.execute_script("return gradscopePage.collapsed()")
    box_line = next(v["dot"] for v in browser.execute_script(
        "return JSON.parse(document.getElementById('gs-data').textContent).vertices").values()
        if v["kind"] == "module" and v["module"] == "model.blocks.1")
    page_dot = browser.execute_script("return gradscopePage.dot()")
    assert box_line in page_dot and f"{conv} [" not in page_dot
    # a search for a name inside the closed box finds the box
    search = browser.find_element(By.ID, "search")
    search.send_keys("model.blocks.*.conv1.weight")
    assert browser.find_element(By.ID, "search-count").text == "3 matches (1 inside closed modules)"
    assert len(browser.find_elements(By.CSS_SELECTOR, "g.gs_node.gs-match")) == 3
    search.send_keys("\ue007")  # Enter: the first match
    assert browser.find_element(By.ID, "search-count").text == "1 of 3"
    # clicking the box opens it again
    browser.find_element(By.CSS_SELECTOR, "g.gs_node.gs_module").click()
    _wait_ready(browser)
    assert browser.find_elements(By.ID, conv)
    assert browser.execute_script("return gradscopePage.collapsed()") == []
    assert browser.execute_script("return gradscopePage.dot()") == to_dot(drawing_mod.build(capture), legend=False)
    assert _errors(browser) == []


def test_frozen_parameter_shows_where_its_paths_are_cut(browser, models):
    from selenium.webdriver.common.by import By

    capture, page = models["resnet_frozen_stem"]
    _load(browser, page)
    browser.find_element(By.ID, _vid(capture, "model.stem.0.weight")).click()
    details = _info(browser)
    assert details.startswith("model.stem.0.weight\nNo path: ")
    assert "frozen parameter" in details and "GS205" in details
    assert browser.find_elements(By.CSS_SELECTOR, "g.edge.gs-path.gs-cut")
    assert _internal_ids(details) == []
    # a trainable parameter of the head: gradient reaches it, its path is highlighted with no cut on it
    browser.find_element(By.ID, _vid(capture, "model.head.weight")).click()
    details = _info(browser)
    assert details.startswith("model.head.weight\nGradient reaches it from loss")
    assert browser.find_elements(By.CSS_SELECTOR, "g.edge.gs-path") and \
        not browser.find_elements(By.CSS_SELECTOR, "g.edge.gs-path.gs-cut")
    assert _errors(browser) == []


def test_gan_generator_paths_and_the_detach_edge(browser, models):
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By

    capture, page = models["gan_step"]
    _load(browser, page)
    detach_line = next(t.cut_line for t in capture.tensors if t.cut_op == "detach")
    browser.find_element(By.ID, _vid(capture, "G.0.weight")).click()
    details = _info(browser)
    assert details.startswith("G.0.weight\nGradient reaches it from loss_g")
    assert _norm_shown(capture, "G.0.weight") in details and "#2 loss_g" in details
    assert f"cut at line {detach_line} (detach)" in details
    cut = browser.find_element(By.CSS_SELECTOR, "g.edge.gs-path.gs-cut")
    # Escape unpins; hovering the cut edge explains it
    ActionChains(browser).send_keys("\ue00c").perform()
    ActionChains(browser).move_to_element(cut.find_element(By.CSS_SELECTOR, "text")).perform()
    details = _info(browser)
    assert f"cut at line {detach_line} (detach)" in details and "gradient\ndetach" in details
    assert _internal_ids(details) == []
    # saved tensors only when asked
    with_saved = browser.execute_script(
        "var M = JSON.parse(document.getElementById('gs-data').textContent);"
        "return Object.keys(M.vertices).filter(function (v) {"
        "  return M.vertices[v].saved.length && document.getElementById(v); })[0]")
    browser.find_element(By.ID, with_saved).click()
    saved = browser.find_element(By.CSS_SELECTOR, "#info ul.saved")
    assert not saved.is_displayed()
    button = browser.find_element(By.ID, "show-saved")
    button.click()
    assert saved.is_displayed() and "hide" in button.text
    assert _errors(browser) == []
    # a parameter both backward calls reached shows its norm after each of them
    from gradscope.analyse.norms import norm_history

    d_weight = next(t for t in capture.tensors if t.param_name == "D.0.weight")
    history = norm_history(capture)[d_weight.id]
    ActionChains(browser).send_keys("\ue00c").perform()
    browser.find_element(By.ID, f"t{d_weight.id}").click()
    details = _info(browser)
    assert len(history) == 2
    for call, value in history.items():
        assert f"grad norm after backward #{call} " in details and f"\n{value:.3g}" in details
    ActionChains(browser).send_keys("\ue00c").perform()
