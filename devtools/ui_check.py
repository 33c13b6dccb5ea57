"""Find seller accounts by state in the Temporal Web UI, in a real headless Chromium.

    .venv/bin/python -m devtools.ui_check [--url http://localhost:8233] [--state registered]

Opens the UI's workflow list filtered with the query operators type (SellerState = '<state>') and
prints the seller workflow ids the page shows. Needs Debian's chromium and chromium-driver.
"""

from __future__ import annotations

import argparse
import re
import sys
import time
import urllib.parse

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"


def browser():  # type: ignore[no-untyped-def]
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1600,1000"):
        options.add_argument(arg)
    return webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)


def list_url(ui: str, query: str, namespace: str = "default") -> str:
    return f"{ui.rstrip('/')}/namespaces/{namespace}/workflows?query={urllib.parse.quote(query)}"


def find_accounts(ui: str, state: str, *, expect: str | None = None, timeout: float = 60) -> list[str]:
    """Seller workflow ids on the UI's list for `SellerState = state` (waits for `expect` if given)."""
    driver = browser()
    try:
        url = list_url(ui, f"SellerState = '{state}'")
        deadline = time.monotonic() + timeout
        found: list[str] = []
        while time.monotonic() < deadline:
            driver.get(url)
            time.sleep(2)  # the list is rendered by the page's scripts
            found = sorted(set(re.findall(r"seller-[A-Z0-9]{8,}", driver.page_source)))
            if found and (expect is None or expect in found):
                break
            time.sleep(1)  # visibility is eventually consistent: new accounts appear within seconds
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
