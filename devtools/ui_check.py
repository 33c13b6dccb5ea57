"""The Temporal Web UI driven as an operator would, in a real headless Chromium.

    .venv/bin/python -m devtools.ui_check [--url http://localhost:8233] [--state registered]

Opens the UI's workflow list filtered with the query operators type (SellerState = '<state>') and
prints the seller workflow ids the page shows. The helpers below also sign an operator in on the codec
server, point the UI at it, read an account's page and send a signal or an update from it, reporting whether
it went, the workflow refused it, or the codec server refused to encode (sign) it (tests/test_web_ui.py).
Needs Debian's chromium and chromium-driver.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import re
import sys
import tempfile
import time
import urllib.parse
from collections.abc import Callable
from pathlib import Path
from typing import Any

CHROMIUM = "/usr/bin/chromium"
# How long the helpers wait for the page by default: conditions, not sleeps, so a long bound costs
# nothing when the UI is quick and keeps a test on two loaded cores from failing for being slow.
PATIENCE_SECONDS = 60.0
CHROMEDRIVER = "/usr/bin/chromedriver"


CHROMIUM_FLAGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--window-size=1600,1000",
)


def browser():  # type: ignore[no-untyped-def]
    """A fresh headless Chromium: its own profile folder, so no cookie or setting carries over."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in (*CHROMIUM_FLAGS, f"--user-data-dir={tempfile.mkdtemp(prefix='ui-check-')}"):
        options.add_argument(arg)
    return webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)


def body_text(driver: Any) -> str:
    from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
    from selenium.webdriver.common.by import By

    try:
        text = str(driver.find_element(By.TAG_NAME, "body").text)
        # The UI renders current details (markdown) in a sandboxed frame: read those too.
        for frame in driver.find_elements(By.TAG_NAME, "iframe"):
            driver.switch_to.frame(frame)
            try:
                text += "\n" + str(driver.find_element(By.TAG_NAME, "body").text)
            finally:
                driver.switch_to.default_content()
        return text
    except (NoSuchElementException, StaleElementReferenceException):
        driver.switch_to.default_content()
        return ""  # between two pages


def wait_for(driver: Any, test: Callable[[str], bool], *, timeout: float = PATIENCE_SECONDS, what: str = "") -> str:
    """The page's text once `test` holds on it; the UI renders (and decodes) asynchronously."""
    deadline = time.monotonic() + timeout
    text = ""
    while time.monotonic() < deadline:
        text = body_text(driver)
        if test(text):
            return text
        time.sleep(0.5)
    driver.save_screenshot(str(Path(tempfile.gettempdir()) / "ui-check-failure.png"))
    (Path(tempfile.gettempdir()) / "ui-check-failure.txt").write_text(text)
    raise AssertionError(
        f"the page never showed {what or 'what was expected'} (page text and screenshot in "
        f"{tempfile.gettempdir()}/ui-check-failure.*); it shows:\n{text[:3000]}"
    )


def click(driver: Any, label: str, *, timeout: float = PATIENCE_SECONDS) -> None:
    """Click the last visible button, link, tab or menu item whose text contains `label`."""
    from selenium.webdriver.common.by import By

    xpath = (
        "//*[self::button or self::a or @role='menuitem' or @role='tab' or self::li]"
        f"[contains(normalize-space(.), '{label}')]"
    )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        shown = [e for e in driver.find_elements(By.XPATH, xpath) if e.is_displayed()]
        if shown:
            driver.execute_script("arguments[0].click()", shown[-1])
            return
        time.sleep(0.3)
    raise AssertionError(f"no {label!r} to click")


def click_text(driver: Any, text: str, *, timeout: float = PATIENCE_SECONDS) -> None:
    """Click the visible element showing exactly `text` (an event row's summary, say)."""
    from selenium.webdriver.common.by import By

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        shown = [
            e
            for e in driver.find_elements(By.XPATH, f"//*[normalize-space(text())='{text}']")
            if e.is_displayed()
        ]
        if shown:
            driver.execute_script("arguments[0].click()", shown[-1])
            return
        time.sleep(0.3)
    raise AssertionError(f"no {text!r} on the page")


def sign_in(driver: Any, codec_url: str, operator: str, password: str) -> None:
    """The operator signs in on the codec server's own page: it sets the session cookie."""
    from selenium.webdriver.common.by import By

    driver.get(f"{codec_url}/login")
    driver.find_element(By.ID, "operator").send_keys(operator)
    driver.find_element(By.ID, "password").send_keys(password)
    driver.find_element(By.ID, "sign-in").click()
    wait_for(driver, lambda t: "Signed in as" in t, what="the signed-in page")


def use_codec(driver: Any, ui: str, codec_url: str) -> None:
    """What an operator sets once in the UI's Data Encoder settings: this endpoint, with "include
    cross-origin credentials" on (kept in the browser's local storage, as the UI keeps them)."""
    driver.get(ui.rstrip("/") + "/namespaces/default/workflows")
    driver.execute_script(
        "localStorage.setItem('endpoint', JSON.stringify(arguments[0]));"
        "localStorage.setItem('includeCredentials', 'true');"
        "localStorage.setItem('passAccessToken', 'false');"
        "localStorage.setItem('overrideRemoteCodecConfiguration', 'true');",
        codec_url,
    )


# What send_message saw: the command went and was taken; an update the workflow refused (the UI cannot
# decode the encrypted failure); the codec server refused to encode (and sign) it, so nothing was sent.
SENT, REFUSED_BY_WORKFLOW, ENCODING_REFUSED = "sent", "refused by the workflow", "encoding refused"


def send_signal(driver: Any, name: str, value: object) -> str:
    """More Actions > Send a Signal, with a JSON input: the UI encodes it through the codec server."""
    return send_message(driver, "signal", name, value)


def send_update(driver: Any, name: str, value: object) -> str:
    """More Actions > Send an Update, the same way; the UI waits for the update's outcome."""
    return send_message(driver, "update", name, value)


def send_message(driver: Any, kind: str, name: str, value: object) -> str:
    from selenium.common.exceptions import StaleElementReferenceException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    def shown(xpath: str) -> list[Any]:
        return [e for e in driver.find_elements(By.XPATH, xpath) if e.is_displayed()]

    # The page may still be wiring its handlers when the button appears: retry until the dialog opens.
    # The signal name is a text box, or a list when the UI learnt the signals from the workflow.
    menu_label = "Send a Signal" if kind == "signal" else "Send an Update"
    picker = f"//button[@data-testid='{kind}-select-button']"
    deadline = time.monotonic() + 20
    while not (boxes := shown(f"//input[@id='{kind}-name']") + shown(picker)):
        if time.monotonic() > deadline:
            driver.save_screenshot(str(Path(tempfile.gettempdir()) / "ui-check-failure.png"))
            (Path(tempfile.gettempdir()) / "ui-check-dialog.html").write_text(driver.page_source)
            raise AssertionError(f"the {menu_label} dialog did not open")
        if items := shown(
            f"//*[@role='menuitem' or self::li or self::button][normalize-space(.)='{menu_label}']"
        ):
            driver.execute_script("arguments[0].click()", items[-1])
        elif buttons := shown("//button[contains(normalize-space(.), 'More Actions')]"):
            driver.execute_script("arguments[0].click()", buttons[-1])
        time.sleep(1)
    if shown(picker):
        driver.execute_script("arguments[0].click()", boxes[-1])
        option = f"//*[@id='{kind}-select-select']//*[normalize-space(text())='{name}']"
        deadline = time.monotonic() + 10
        while not (options := shown(option)):
            if time.monotonic() > deadline:
                driver.save_screenshot(str(Path(tempfile.gettempdir()) / "ui-check-failure.png"))
                raise AssertionError(f"no {kind} {name!r} in the list")
            time.sleep(0.3)
        driver.execute_script("arguments[0].click()", options[-1])
    else:
        boxes[0].send_keys(name)
        boxes[0].send_keys(Keys.TAB)
    if kind == "update":
        # A fixed update id: a second click (see below) is then the same update, not another one.
        update_id = shown("//label[contains(normalize-space(.), 'Update ID')]/following::input[1]")
        if update_id:
            update_id[0].send_keys(f"ui-check-{time.time_ns()}")
    editor = next(e for e in driver.find_elements(By.CSS_SELECTOR, "dialog .cm-content") if e.is_displayed())
    editor.click()
    editor.send_keys(json.dumps(value))
    confirm = driver.find_element(By.CSS_SELECTOR, "[data-testid='confirm-modal-button']")
    deadline = time.monotonic() + 10
    while not confirm.is_enabled() and time.monotonic() < deadline:
        time.sleep(0.2)
    driver.execute_script("arguments[0].click()", confirm)
    deadline = time.monotonic() + 15
    while pending := shown("//button[@data-testid='confirm-modal-button']"):
        time.sleep(1)
        if shown("//*[contains(normalize-space(text()), 'Data encoding failed')]"):
            # The codec server answered an error (its body says why: rule, reason code); the UI sent nothing.
            click(driver, "Cancel")
            return ENCODING_REFUSED
        if kind == "update" and shown("//*[contains(normalize-space(text()), 'Encoded failure')]"):
            # A refusal stays in the dialog (the UI cannot decode the encrypted failure).
            click(driver, "Cancel")
            return REFUSED_BY_WORKFLOW
        with contextlib.suppress(StaleElementReferenceException):  # closed meanwhile
            if pending[0].is_enabled():  # the first click can land before the form takes the input
                pending[0].click()
        if time.monotonic() > deadline:
            driver.save_screenshot(str(Path(tempfile.gettempdir()) / "ui-check-failure.png"))
            raise AssertionError(f"the {kind} was not sent; the dialog says: {body_text(driver)[-600:]}")
        time.sleep(0.3)
    return SENT


def list_url(ui: str, query: str, namespace: str = "default") -> str:
    return f"{ui.rstrip('/')}/namespaces/{namespace}/workflows?query={urllib.parse.quote(query)}"


def find_accounts(ui: str, state: str, *, expect: str | None = None, timeout: float = 90) -> list[str]:
    """Seller workflow ids on the UI's list for `SellerState = state`. With `expect`, waits until that
    id shows and fails with the page's text if it never does (the UI renders the list from its own
    requests, so a loaded machine can take a while; the page is reloaded now and then because the list
    is read once per load)."""
    driver = browser()
    try:
        url = list_url(ui, f"SellerState = '{state}'")
        deadline = time.monotonic() + timeout
        found: list[str] = []
        text = ""
        while time.monotonic() < deadline:
            driver.get(url)
            reload_at = min(deadline, time.monotonic() + 15)
            while time.monotonic() < reload_at:
                text = body_text(driver)
                found = sorted(set(re.findall(r"seller-[A-Z0-9]{8,}", str(driver.page_source))))
                if found and (expect is None or expect in found):
                    return found
                time.sleep(0.5)
        if expect is not None:
            driver.save_screenshot(str(Path(tempfile.gettempdir()) / "ui-check-failure.png"))
            raise AssertionError(f"the list never showed {expect} for SellerState = '{state}'; it shows:\n{text[:3000]}")
        return found
    finally:
        driver.quit()


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--url", default="http://localhost:8233")
    p.add_argument("--state", default="registered")
    args = p.parse_args()
    ids = find_accounts(args.url, args.state, timeout=20)
    print(f"{len(ids)} account(s) with SellerState = '{args.state}' on {args.url}:")
    for wid in ids:
        print(f"  {wid}")
    return 0 if ids else 1


if __name__ == "__main__":
    sys.exit(main())
