"""Screenshot a gradscope HTML page after real clicks, for the README (`make pictures` runs it).

    python docs/shoot_html.py PAGE.html OUT.png [--close MODULE]... [--click NAME]

Opens the page in headless chromium (Debian's chromium + chromium-driver), closes the named
modules by clicking their frames, clicks the node of the tensor or parameter NAME, and saves the
window. Fails when the page logs a JavaScript error.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from pathlib import Path


def _ready(driver, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while driver.execute_script("return document.body.getAttribute('data-state')") != "ready":
        if time.monotonic() > deadline:
            raise SystemExit("the page did not finish laying out")
        time.sleep(0.05)


def main() -> None:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By

    parser = argparse.ArgumentParser()
    parser.add_argument("page", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--close", action="append", default=[])
    parser.add_argument("--click")
    args = parser.parse_args()
    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium") or shutil.which("chromium-browser") or "chromium"
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1500,900", "--hide-scrollbars"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(shutil.which("chromedriver") or "chromedriver"), options=options)
    try:
        driver.get(args.page.resolve().as_uri())
        _ready(driver)
        for module in args.close:
            driver.find_element(By.CSS_SELECTOR, f'g.cluster[data-module="{module}"] > text').click()
            _ready(driver)
        if args.click:
            vid = driver.execute_script(
                "var name = arguments[0], M = JSON.parse(document.getElementById('gs-data').textContent);"
                "return Object.keys(M.vertices).filter(function (v) {"
                "  return M.vertices[v].names.indexOf(name) >= 0 && document.getElementById(v); })[0]",
                args.click)
            if not vid:
                raise SystemExit(f"no node named {args.click!r} is drawn")
            driver.find_element(By.ID, vid).click()
        errors = [e for e in driver.get_log("browser") if e.get("level") == "SEVERE"]
        if errors:
            raise SystemExit(f"the page logged errors: {errors}")
        driver.save_screenshot(str(args.out))
    finally:
        driver.quit()


if __name__ == "__main__":
    sys.exit(main())
