"""The live page in a real browser (headless Chromium from Debian's packages, driven by
Selenium through Debian's chromedriver) against a whole Podium: worker, ranker, projector and
gateway on the real broker and Redis. The page is opened with a key, events go in through
Trophy's SDK, and the page shows their facts in its feed and the board's new order; without a
key, or with a wrong one, it shows nothing but its sign-in form and its reads answer 401.

The expected lines are worked out by hand from tests/rules/dashboard.toml: 10 XP per 100
words, the level "Writer" from 50 XP, "First words" at 1 word and "Novella" at 500.

A screenshot of the page is saved to $PODIUM_PAGE_SCREENSHOT when set (the README's
docs/img/live-page.png comes from `PODIUM_PAGE_SCREENSHOT=docs/img/live-page.png`), else
beside the test's logs.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path

import httpx
import pytest
from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver

from tests.integration.gateway.conftest import Podium, eventually, start_podium
from tests.integration.runtime.kafka_io import produce
from tests.rules import DASHBOARD_PATH

pytestmark = pytest.mark.integration
TENANT = "page-test"
ADA = {"id": "ada", "name": "Ada", "tz": "Europe/London"}
BEN = {"id": "ben", "name": "Ben", "tz": "America/New_York"}


@pytest.fixture(scope="module")
def podium(
    kafka_bootstrap: str, redis_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Podium]:
    with ExitStack() as stack:
        pod = start_podium(
            kafka_bootstrap, redis_url, tmp_path_factory.mktemp("podium"), rules=DASHBOARD_PATH
        )
        stack.callback(pod.stop)
        pod.start_ranker()
        yield pod
        pod.check_alive()


def chrome() -> WebDriver:
    """Headless Chromium, driven through Debian's chromedriver (no browser download)."""
    chromium, driver = shutil.which("chromium"), shutil.which("chromedriver")
    if chromium is None or driver is None:
        pytest.fail("no chromium or chromedriver: `make install` installs Debian's packages")
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage"):
        options.add_argument(arg)
    options.add_argument("--window-size=1280,1100")
    return webdriver.Chrome(options=options, service=Service(driver))


@pytest.fixture
def browser() -> Iterator[WebDriver]:
    driver = chrome()
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture(scope="module")
def page(podium: Podium) -> Iterator[WebDriver]:
    """The page open for the tenant's user "ada" while three events go in through the SDK
    (and one for another tenant, which the page must not show)."""
    driver = chrome()
    try:
        play(podium, driver)
        yield driver
    finally:
        driver.quit()


def play(podium: Podium, browser: WebDriver) -> None:
    trophy = podium.trophy(tenant=TENANT)
    for user in (ADA, BEN):
        trophy.users.identify(id=user["id"], name=user["name"], tz=user["tz"])
    eventually(lambda: _assert(trophy.users.get(id="ben").name == "Ben"))

    browser.get(f"{root(podium)}/dashboard#key={podium.api_key}&tenant={TENANT}&user=ada")
    assert "#" not in browser.current_url  # the key left the address bar
    on_page(browser, lambda: _assert(text(browser, "#feed-state") == ["live"]), within=30)
    podium.trophy().metrics.event(key="words-written", user={"id": "ada"}, value=999)  # no tenant
    trophy.metrics.event(key="words-written", user=ADA, value=100)
    trophy.metrics.event(key="words-written", user=BEN, value=300)
    on_page(
        browser, lambda: _assert([r[1] for r in board_rows(browser, "top-writers")][:1] == ["Ben"])
    )
    trophy.metrics.event(key="words-written", user=ADA, value=500)


def root(podium: Podium) -> str:
    return podium.base_url.removesuffix("/v1")


def text(browser: WebDriver, selector: str) -> list[str]:
    return [e.text for e in browser.find_elements(By.CSS_SELECTOR, selector)]


def board_rows(browser: WebDriver, key: str) -> list[list[str]]:
    return rows(browser, f'.board[data-key="{key}"] tbody tr')


def feed_lines(browser: WebDriver) -> set[str]:
    """The feed's lines without their time (`<time>` then the user's name and the text)."""
    out = set()
    for li in browser.find_elements(By.CSS_SELECTOR, "#feed li"):
        when = li.find_element(By.TAG_NAME, "time").text
        out.add(li.text.removeprefix(when).strip())
    return out


def test_the_page_refuses_without_a_key(podium: Podium, browser: WebDriver) -> None:
    with httpx.Client(base_url=root(podium), timeout=10) as http:
        for path in ("/dashboard/api/overview", "/dashboard/api/feed", "/dashboard/api/health"):
            assert http.get(path).status_code == 401
            assert http.get(path, headers={"X-API-KEY": "pk_wrong.key"}).status_code == 401
        page = http.get("/dashboard")
    assert page.status_code == 200  # the page itself holds no data
    assert "script-src 'self'" in page.headers["content-security-policy"]

    browser.get(root(podium) + "/dashboard")
    on_page(browser, lambda: _assert(browser.find_element(By.ID, "login").is_displayed()))
    assert not browser.find_element(By.ID, "main").is_displayed()
    browser.find_element(By.ID, "login-key").send_keys("pk_wrong.key")
    browser.find_element(By.CSS_SELECTOR, "#login-form button").click()
    on_page(browser, lambda: _assert(text(browser, "#login-error") == ["Refused: invalid API key"]))
    assert not browser.find_element(By.ID, "main").is_displayed()
    assert browser.execute_script("return sessionStorage.getItem('podium.key')") is None


def _assert(condition: bool) -> None:
    assert condition


def on_page(browser: WebDriver, check: Callable[[], object], within: float = 20.0) -> None:
    """Retry `check` (which asserts) until it passes (the page re-renders as it reads, so an
    element may go stale between two looks), failing after `within` s with what it shows."""
    deadline = time.monotonic() + within
    while True:
        try:
            check()
            return
        except (AssertionError, StaleElementReferenceException) as exc:
            if time.monotonic() > deadline:
                shown = browser.find_element(By.TAG_NAME, "body").text
                raise AssertionError(f"{exc!r}; the page shows:\n{shown}") from None
            time.sleep(0.1)


def test_the_feed_shows_each_fact_once_and_only_the_tenants(page: WebDriver) -> None:
    expected = {
        "Ada unlocked First words",
        "Ada started a streak",
        "Ada reached level Novice in XP",
        "Ada joined Top writers at #1",
        "Ben unlocked First words",
        "Ben started a streak",
        "Ben reached level Novice in XP",
        "Ben joined Top writers at #1",
        "Ada unlocked Novella",
        "Ada reached level Writer in XP",
        "Ada moved up to #1 on Top writers (was #2)",
    }
    on_page(page, lambda: _assert(feed_lines(page) == expected))
    assert len(page.find_elements(By.CSS_SELECTOR, "#feed li")) == len(expected)


def test_the_board_changes_on_the_page(page: WebDriver) -> None:
    on_page(
        page,
        lambda: _assert(
            board_rows(page, "top-writers")
            == [
                ["#1", "Ada", "600"],
                ["#2", "Ben", "300"],
            ]
        ),
    )
    on_page(
        page, lambda: _assert(text(page, '[data-key="top-writers"] .place') == ["ada: #1 with 600"])
    )


def test_achievements_and_levels_on_the_page(page: WebDriver) -> None:
    on_page(
        page,
        lambda: _assert(
            rows(page, "#achievements tbody tr")
            == [
                ["First words", "2", "100%"],
                ["Novella", "1", "50%"],
            ]
        ),
    )
    on_page(
        page,
        lambda: _assert(
            rows(page, '.system[data-key="xp"] tbody tr')
            == [
                ["Novice", "0+", "1 user"],
                ["Writer", "50+", "1 user"],
            ]
        ),
    )
    on_page(
        page, lambda: _assert(text(page, '.system[data-key="xp"] .place') == ["ada: 60 (Writer)"])
    )


def test_health_on_the_page(podium: Podium, page: WebDriver) -> None:
    # a record no command decodes from: the worker parks it on the dead-letter topic
    asyncio.run(produce(podium.bootstrap, f"{podium.prefix}podium.events", [(b"x", b"{")]))
    running = [["worker", "1 running", "lag 0"], ["ranker", "1 running", "lag 0"]]
    on_page(page, lambda: _assert(rows(page, "#health tbody tr")[:2] == running))
    on_page(page, lambda: _assert("dead letters: 1" in text(page, "#health")[0]))
    where = Path(os.environ.get("PODIUM_PAGE_SCREENSHOT") or podium.home / "live-page.png")
    where.parent.mkdir(parents=True, exist_ok=True)
    assert page.save_screenshot(str(where))


def rows(browser: WebDriver, selector: str) -> list[list[str]]:
    found = browser.find_elements(By.CSS_SELECTOR, selector)
    return [[td.text for td in row.find_elements(By.TAG_NAME, "td")] for row in found]


def test_the_feed_stops_reading_when_no_page_listens(podium: Podium, page: WebDriver) -> None:
    """An idle gateway costs the broker nothing: the feed reads while the page listens, and
    its reader is stopped once the page went away."""
    headers = {"X-API-KEY": podium.api_key}
    with httpx.Client(base_url=root(podium), headers=headers, timeout=10) as http:

        def feed() -> tuple[int, int]:
            health = http.get("/dashboard/api/health").json()
            return health["feedPages"], health["feedReaders"]

        assert feed() == (1, 1)
        page.get("about:blank")  # the page goes away
        eventually(lambda: _assert(feed() == (0, 0)))
