"""End to end in a real browser: Debian's headless Chromium, driven by selenium through chromedriver.

An owner signs in with a token, opens a call, reads its transcript, the audio element's source
answers 200 (through the dashboard's redirect to the presigned S3 URL) and the browser loads the
recording from it; another account's call is the 404 page.
"""

from __future__ import annotations

import io
import math
import shutil
import struct
import wave
from collections.abc import Iterator

import httpx
import pytest
from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service as DriverService
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

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
                  "--no-first-run", "--mute-audio", "--window-size=390,844")


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
