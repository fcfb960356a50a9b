"""The HTML page in Firefox (Debian's firefox-esr, headless), with real clicks and keys, as
tests/test_render_html.py does in Chromium. Firefox is driven over Marionette, its own remote
protocol (the `marionette_driver` client): geckodriver, which Selenium would need, is neither
packaged in Debian nor reachable from here. The page loads from file:// without a JavaScript error
(Firefox prints each one to its log) and fetches nothing; it draws the SVG's graph; a click shows a
node's details and pins them, Escape unpins; a module closes into a box and opens again; search finds
names and globs; a frozen parameter says where its paths to the loss are cut."""

from __future__ import annotations

import re
import shutil
import socket
import subprocess
import time

import pytest

from test_render_html import models  # noqa: F401 - the same traced ResNet and GAN pages, as a fixture

from gradscope.capture import Capture
from gradscope.render import drawing as drawing_mod
from gradscope.render.dot import to_dot

INSTALL = "run `make test` (it installs it) or `apt-get install -y firefox-esr`"
ESCAPE, ENTER = "\ue00c", "\ue007"


@pytest.fixture(scope="module")
def firefox(tmp_path_factory):
    """(marionette session, Firefox's log file)."""
    try:
        from marionette_driver.marionette import Marionette
    except ImportError:
        pytest.fail("marionette_driver is not installed: pip install -e '.[test]'")
    binary = shutil.which("firefox-esr") or shutil.which("firefox")
    if not binary:
        pytest.fail(f"the Firefox test needs firefox-esr on PATH; {INSTALL}")
    profile = tmp_path_factory.mktemp("firefox-profile")
    with socket.socket() as probe:  # a free port: test workers may run two Firefoxes at once
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    prefs = {"marionette.port": port, "devtools.console.stdout.content": True,
             "browser.shell.checkDefaultBrowser": False, "app.update.enabled": False}
    (profile / "user.js").write_text("".join(f"user_pref({_js(k)}, {_js(v)});\n" for k, v in prefs.items()))
    log_path = profile / "firefox.log"
    with open(log_path, "w") as log:
        proc = subprocess.Popen([binary, "--headless", "--marionette", "--no-remote", "--profile", str(profile),
                                 "--width", "1400", "--height", "900"], stdout=log, stderr=subprocess.STDOUT)
    session = Marionette(host="127.0.0.1", port=port)
    try:
        session.start_session(timeout=120)
        yield session, log_path
    finally:
        try:
            session.delete_session()
        finally:
            proc.terminate()
            proc.wait(30)


def _js(value) -> str:
    return "true" if value is True else "false" if value is False else repr(value).replace("'", '"')


def _load(session, page) -> None:
    session.navigate(page.as_uri())
    _wait_ready(session)


def _wait_ready(session) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        state = _page_js(session, "return document.body.getAttribute('data-state')")
        if state == "ready":
            return
        assert state != "error", session.find_element("id", "status").text
        time.sleep(0.05)
    pytest.fail("the page did not finish laying out in Firefox")


def _page_js(session, script: str):
    """Run `script` in the page's own scope (Marionette's default sandbox hides the page's globals)."""
    return session.execute_script(script, sandbox=None)


def _errors(log_path, page) -> list[str]:
    """The JavaScript errors Firefox logged for this page (it prints each uncaught one)."""
    return [line for line in log_path.read_text(errors="replace").splitlines()
            if line.startswith("JavaScript error: ") and page.as_uri() in line]


def _vid(capture: Capture, name: str) -> str:
    return "t%d" % next(t for t in capture.tensors if name in (t.name, t.param_name)).id


def _info(session) -> str:
    return session.find_element("id", "info").text


def _keys(session, *keys) -> None:
    """Real key presses to the page, as a user's (not typed into a field)."""
    _page_js(session, "document.activeElement && document.activeElement.blur()")
    body = session.find_element("css selector", "body")
    for key in keys:
        body.send_keys(key)


def _node(session, vid: str):
    """A node's label: Firefox's driver cannot scroll an SVG `<g>` into view, but can its text."""
    return session.find_element("css selector", f'g[id="{vid}"] text')


def _hover(session, element) -> None:
    session.actions.sequence("pointer", "mouse").pointer_move(0, 0, origin=element).perform()


def test_page_loads_draws_the_svgs_graph_and_pins_details(firefox, models):
    session, log = firefox
    capture, page = models["resnet_frozen_stem"]
    _load(session, page)
    assert session.title.startswith("gradscope")
    assert _page_js(session, "return performance.getEntriesByType('resource').length") == 0  # no fetch
    assert _page_js(session, "return gradscopePage.dot()") == to_dot(drawing_mod.build(capture), legend=False)
    head = _vid(capture, "model.head.weight")
    _node(session, head).click()
    details = _info(session)
    assert details.startswith("model.head.weight\nGradient reaches it from loss")
    assert not re.findall(r"\b[tnm]\d+(?:r\d+)?\b", details)  # no internal id
    # pinned: hovering another node keeps the details; Escape unpins, then hovering shows the other
    stem = _node(session, _vid(capture, "model.stem.0.weight"))
    _hover(session, stem)
    assert _info(session).startswith("model.head.weight")
    _keys(session, ESCAPE)
    _hover(session, _node(session, head))
    _hover(session, stem)
    assert _info(session).startswith("model.stem.0.weight")
    assert _errors(log, page) == []


def test_modules_close_and_open_and_search_finds_names(firefox, models):
    session, log = firefox
    capture, page = models["resnet_frozen_stem"]
    _load(session, page)
    conv = _vid(capture, "model.blocks.1.conv1.weight")
    assert session.find_elements("id", conv)
    session.find_element("css selector", 'g.cluster[data-module="model.blocks.1"] > text').click()
    _wait_ready(session)
    assert not session.find_elements("id", conv)
    assert _page_js(session, "return gradscopePage.collapsed()") == ["model.blocks.1"]
    search = session.find_element("id", "search")
    search.send_keys("model.blocks.*.conv1.weight")
    assert session.find_element("id", "search-count").text == "3 matches (1 inside closed modules)"
    search.send_keys(ENTER)
    assert session.find_element("id", "search-count").text == "1 of 3"
    session.find_element("css selector", "g.gs_node.gs_module text").click()
    _wait_ready(session)
    assert session.find_elements("id", conv) and _page_js(session, "return gradscopePage.collapsed()") == []
    assert _errors(log, page) == []


def test_a_frozen_parameter_says_where_its_paths_are_cut(firefox, models):
    session, log = firefox
    capture, page = models["resnet_frozen_stem"]
    _load(session, page)
    _node(session, _vid(capture, "model.stem.0.weight")).click()
    details = _info(session)
    assert details.startswith("model.stem.0.weight\nNo path: ") and "frozen parameter" in details
    assert session.find_elements("css selector", "g.edge.gs-path.gs-cut")
    capture, page = models["gan_step"]
    _load(session, page)
    detach_line = next(t.cut_line for t in capture.tensors if t.cut_op == "detach")
    _node(session, _vid(capture, "G.0.weight")).click()
    details = _info(session)
    assert details.startswith("G.0.weight\nGradient reaches it from loss_g")
    assert f"cut at line {detach_line} (detach)" in details
    assert _errors(log, page) == []
