"""End to end in a real browser: Debian's headless Chromium, driven by selenium through chromedriver.

An owner signs in with a token, opens a call, reads its transcript, the audio element's source
answers 200 (through the dashboard's redirect to the presigned S3 URL) and the browser loads the
recording from it; another account's call is the 404 page. Then, at a phone's width and a
desktop's: the emergency stands out at the top of the list, the filters and the search narrow it,
"Mark handled" moves a call out of the open view, the call button is a `tel:` link above the fold,
a time in the transcript plays the recording from there, and the account page saves one section
without touching the others. Each page is kept as a screenshot under pytest's base temporary
directory (`screenshots/<width>-<page>.png`), the artefacts of the run.
"""

from __future__ import annotations

import time

import io
import math
import shutil
import struct
import wave
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service as DriverService
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select, WebDriverWait

from tests.support.dashboard import (
    NUMBER_A,
    NUMBER_B,
    PUBLIC_URL,
    TRANSCRIPT,
    WHEN,
    make_call,
    make_team,
)
from tests.support.service import serve as _serve

CHROMIUM, CHROMEDRIVER = shutil.which("chromium"), shutil.which("chromedriver")

# The machine has no internet: without these, Chromium stalls on refused background connections.
CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--no-first-run", "--mute-audio", "--window-size=390,844",
                  "--autoplay-policy=no-user-gesture-required", "--hide-scrollbars")
WIDTHS = {"phone": (390, 844), "desktop": (1280, 900)}


def tone_wav(seconds: float = 1.0, rate: int = 8000) -> bytes:
    """A real 8 kHz mono PCM WAV (what Twilio's recordings decode to), so the browser can load it."""
    frames = b"".join(struct.pack("<h", int(8000 * math.sin(2 * math.pi * 440 * i / rate)))
                      for i in range(int(seconds * rate)))
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(frames)
    return buffer.getvalue()


@pytest.fixture
def browser(tmp_path) -> Iterator[webdriver.Chrome]:
    if not (CHROMIUM and CHROMEDRIVER):
        pytest.skip(reason="needs Debian's chromium and chromium-driver (apt-get install chromium chromium-driver)")
    options = Options()
    options.binary_location = CHROMIUM
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tmp_path / 'chromium-profile'}")
    driver = webdriver.Chrome(options=options, service=DriverService(executable_path=CHROMEDRIVER))
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture(scope="session")
def screenshots(tmp_path_factory) -> Path:
    folder = tmp_path_factory.getbasetemp() / "screenshots"
    folder.mkdir(exist_ok=True)
    return folder


@pytest.fixture
def served(make_settings, pg_database):
    yield from _serve(make_settings(pg_database, public_url=PUBLIC_URL, allow_plain_http=True))


def test_owner_signs_in_opens_a_call_plays_its_recording_and_cannot_open_another_accounts(served, browser):
    team = make_team(served)
    audio = tone_wav()
    sid = make_call(served, NUMBER_A, "+15550140003", started_at=WHEN, transcript=TRANSCRIPT, recording=audio)
    foreign = make_call(served, NUMBER_B, "+15550140009", started_at=WHEN,
                        transcript=[{"speaker": "caller", "start": 0.0, "end": 2.0, "text": "Bayside's secret."}])
    wait = WebDriverWait(browser, 10)

    browser.get(f"{served.url}/calls/{sid}")
    wait.until(lambda d: "/signin" in d.current_url)
    browser.find_element(By.ID, "token").send_keys(team.tokens["owner"])
    browser.find_element(By.CSS_SELECTOR, "form[action='/signin'] button[type=submit]").click()
    wait.until(lambda d: d.current_url == f"{served.url}/calls/{sid}")

    body = browser.find_element(By.TAG_NAME, "body").text
    for segment in TRANSCRIPT:
        assert segment["text"] in body
    assert "Kept 90 days" in body and "May be used, anonymised, to improve the AI" in body

    player = browser.find_element(By.CSS_SELECTOR, "audio#recording")
    source = browser.execute_script("return arguments[0].currentSrc || arguments[0].src", player)
    assert source == f"{served.url}/calls/{sid}/recording"
    cookies = {c["name"]: c["value"] for c in browser.get_cookies()}
    fetched = httpx.get(source, cookies=cookies, follow_redirects=True, timeout=30.0)
    assert fetched.status_code == 200 and fetched.content == audio
    assert fetched.url.host == httpx.URL(served.settings.s3_endpoint_url).host  # the presigned S3 URL
    assert "X-Amz-Signature" in str(fetched.url)

    # The browser itself follows the redirect and decodes the recording (CSP lets media come from S3).
    browser.execute_script("arguments[0].preload = 'auto'; arguments[0].load();", player)
    wait.until(lambda d: d.execute_script("return arguments[0].readyState >= 1 || arguments[0].error !== null",
                                          player))
    assert browser.execute_script("return arguments[0].error", player) is None
    assert browser.execute_script("return arguments[0].duration", player) == pytest.approx(1.0, abs=0.05)

    browser.get(f"{served.url}/calls/{foreign}")
    assert browser.find_element(By.TAG_NAME, "h1").text == "Not found"
    assert "Bayside's secret." not in browser.find_element(By.TAG_NAME, "body").text
    browser.get(f"{served.url}/calls")
    assert foreign not in browser.page_source and f"/calls/{sid}" in browser.page_source


def sign_in_browser(browser: webdriver.Chrome, url: str, token: str) -> None:
    browser.get(f"{url}/signin")
    browser.find_element(By.ID, "token").send_keys(token)
    browser.find_element(By.CSS_SELECTOR, "form[action='/signin'] button[type=submit]").click()
    WebDriverWait(browser, 10).until(lambda d: "/signin" not in d.current_url)


def shown_calls(browser: webdriver.Chrome) -> list[str]:
    """The calls listed, read again when the page is replaced while it is read (a form post's reload)."""
    from selenium.common.exceptions import StaleElementReferenceException

    for _ in range(20):
        try:
            return [a.get_attribute("href").rsplit("/", 1)[-1]
                    for a in browser.find_elements(By.CSS_SELECTOR, "ol.calls a.open")]
        except StaleElementReferenceException:
            time.sleep(0.1)
    raise AssertionError("the call list kept changing while it was read")


def in_view(browser: webdriver.Chrome, element) -> bool:
    """The element is on screen without scrolling (above the fold) and not cut off at the sides."""
    return browser.execute_script(
        "const r = arguments[0].getBoundingClientRect();"
        "return r.width > 0 && r.top >= 0 && r.bottom <= window.innerHeight && r.left >= 0"
        " && r.right <= document.documentElement.clientWidth;", element)


def colour(browser: webdriver.Chrome, element, prop: str) -> str:
    return browser.execute_script("return getComputedStyle(arguments[0])[arguments[1]]", element, prop)


@pytest.mark.parametrize("width", sorted(WIDTHS))
def test_an_owner_acts_on_calls_at_phone_and_desktop_width(served, browser, screenshots, width):
    browser.set_window_size(*WIDTHS[width])
    team = make_team(served)
    seconds = 6.0
    drain = make_call(served, NUMBER_A, "+15550140001", started_at=WHEN - timedelta(hours=2),
                      lead={"name": "Priya Natarajan", "reason": "Slow kitchen drain, no rush", "urgency": "low"},
                      summary="Priya's kitchen drain is slow; no rush.")
    emergency = make_call(
        served, NUMBER_A, "+15550140002", started_at=WHEN - timedelta(hours=1),
        lead={"name": "Dana Whitfield", "callback_number": "+15550142367", "urgency": "emergency",
              "reason": "Water coming through the ceiling", "address": "12 Elm Street, Springfield"},
        summary="Dana has water coming through her ceiling right now; it is an emergency.",
        transcript=[{"speaker": "receptionist", "start": 0.0, "end": 2.5, "text": "Thanks for calling Acme Plumbing."},
                    {"speaker": "caller", "start": 3.0, "end": 5.5,
                     "text": "There's water coming through my ceiling right now, it's an emergency."}],
        recording=tone_wav(seconds))
    missed = make_call(served, NUMBER_A, "+15550140003", started_at=WHEN, outcome="missed", summary=None, duration_s=3)
    wait = WebDriverWait(browser, 10)
    shot = lambda name: browser.save_screenshot(str(screenshots / f"{width}-{name}.png"))  # noqa: E731

    sign_in_browser(browser, served.url, team.tokens["owner"])
    # The list: the emergency first, red, with its reason and a tap-to-call button in view.
    browser.get(f"{served.url}/calls")
    assert shown_calls(browser) == [emergency, missed, drain]
    first = browser.find_element(By.CSS_SELECTOR, "ol.calls li")
    badge = first.find_element(By.CSS_SELECTOR, ".badge.urgency-emergency")
    assert badge.text == "EMERGENCY" and colour(browser, badge, "backgroundColor") == "rgb(179, 38, 30)"
    assert colour(browser, first, "borderLeftColor") == "rgb(179, 38, 30)"
    assert "Water coming through the ceiling" in first.text and "Dana Whitfield" in first.text
    button = first.find_element(By.CSS_SELECTOR, "a.call-back")
    assert button.get_attribute("href") == "tel:+15550142367" and button.text == "Call (555) 014-2367"
    assert in_view(browser, button)
    shot("calls")

    # Filters and search, kept in the URL.
    browser.find_element(By.CSS_SELECTOR, "details summary").click()
    Select(browser.find_element(By.NAME, "urgency")).select_by_value("low")
    browser.find_element(By.CSS_SELECTOR, "form.filters button[type=submit]").click()
    wait.until(lambda d: "urgency=low" in d.current_url)
    assert shown_calls(browser) == [drain]
    shot("calls-filtered")
    browser.get(f"{served.url}/calls")
    search = browser.find_element(By.NAME, "q")
    search.send_keys("ceiling")
    browser.find_element(By.CSS_SELECTOR, "form.filters button[type=submit]").click()
    wait.until(lambda d: "q=ceiling" in d.current_url)
    assert shown_calls(browser) == [emergency]

    # Handled: out of the open view, into the handled one.
    browser.get(f"{served.url}/calls")
    browser.find_elements(By.CSS_SELECTOR, "ol.calls li")[2].find_element(By.CSS_SELECTOR, "button.quiet").click()
    wait.until(lambda d: drain not in shown_calls(d))
    assert shown_calls(browser) == [emergency, missed]
    browser.find_element(By.LINK_TEXT, "Handled").click()
    wait.until(lambda d: "state=handled" in d.current_url)
    assert shown_calls(browser) == [drain] and "HANDLED" in browser.find_element(By.CSS_SELECTOR, "ol.calls").text

    # The call page: who and the call button first, above the fold; a time seeks the recording.
    browser.get(f"{served.url}/calls/{emergency}")
    assert browser.find_element(By.TAG_NAME, "h1").text == "Dana Whitfield"
    call_button = browser.find_element(By.CSS_SELECTOR, "a.call-button")
    assert call_button.get_attribute("href") == "tel:+15550142367" and in_view(browser, call_button)
    top = browser.find_element(By.CSS_SELECTOR, "section.caller-card").text.lower()
    assert top.index("call (555) 014-2367") < top.index("emergency") < top.index("water coming") < top.index("12 elm")
    shot("call")
    browser.find_element(By.LINK_TEXT, "0:03").click()
    wait.until(lambda d: "at=3" in d.current_url)
    player = browser.find_element(By.CSS_SELECTOR, "audio#recording")
    wait.until(lambda d: d.execute_script("return arguments[0].readyState >= 1 || arguments[0].error !== null", player))
    assert browser.execute_script("return arguments[0].error", player) is None
    position = browser.execute_script("return arguments[0].currentTime", player)
    assert 3.0 <= position < seconds  # playing from where the caller starts speaking
    browser.get(f"{served.url}/calls/{missed}")
    body = browser.find_element(By.TAG_NAME, "body").text
    assert "The caller hung up before speaking" in body and "Retention" not in body
    shot("call-missed")

    # The account page: one section saved, the others left as they were.
    browser.get(f"{served.url}/account")
    sections = [f.get_attribute("id") for f in browser.find_elements(By.CSS_SELECTOR, "form.section")]
    assert sections == ["business", "hours", "words", "alerts", "screening", "privacy"]
    assert browser.find_element(By.ID, "team").is_displayed()
    shot("account")
    name = browser.find_element(By.NAME, "name")
    name.clear()
    name.send_keys("Not saved with the hours")
    assert browser.find_element(By.NAME, "hours_tue_open").get_attribute("type") == "time"
    browser.execute_script("arguments[0].value = '07:30'", browser.find_element(By.NAME, "hours_tue_open"))
    browser.execute_script("arguments[0].value = '16:00'", browser.find_element(By.NAME, "hours_tue_close"))
    browser.find_element(By.CSS_SELECTOR, "#hours label.check input[name=hours_sun_closed]").click()
    save = browser.find_element(By.XPATH, "//form[@id='hours']//button[text()='Save hours']")
    browser.execute_script("arguments[0].scrollIntoView()", save)
    save.click()
    wait.until(lambda d: d.current_url.endswith("/account?saved=hours#hours"))
    assert "Saved." in browser.find_element(By.ID, "hours").text
    shot("account-hours-saved")
    account = served.http.get(f"/api/accounts/{team.account['id']}", headers=served.admin()).json()
    assert account["name"] == "Acme Plumbing"
    assert account["business"]["hours"]["tue"] == "07:30-16:00" and account["business"]["hours"]["sun"] == "closed"
    assert browser.find_element(By.NAME, "greeting").get_attribute("placeholder").startswith("Hi, you've reached")
