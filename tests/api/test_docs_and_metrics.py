"""`/docs` works offline (Swagger UI from files shipped with the product) and `/metrics` is closed
unless a scrape token is set."""

from __future__ import annotations

import re
import secrets
import shutil

import pytest

from tests.support.service import serve

CHROMIUM, CHROMEDRIVER = shutil.which("chromium"), shutil.which("chromedriver")


@pytest.fixture
def scraped(make_settings, sqlite_database):
    yield from serve(make_settings(sqlite_database, metrics_token="scrape-" + secrets.token_hex(16)))


def test_docs_load_only_files_the_service_serves(pg_service):
    service = pg_service
    page = service.http.get("/docs")
    assert page.status_code == 200 and "SwaggerUIBundle" in page.text
    assets = re.findall(r"""(?:src|href)=["']([^"']+)["']""", page.text)
    urls = re.findall(r"""url: ['"]([^'"]+)['"]""", page.text)
    assert assets and urls
    for link in assets + urls:
        assert link.startswith("/"), f"/docs loads {link} from outside the service"
        response = service.http.get(link)
        assert response.status_code == 200 and response.content, link
    assert "openapi" in service.http.get("/openapi.json").json()
    js = service.http.get("/docs/static/swagger-ui-bundle.js")
    assert js.headers["content-type"].startswith(("text/javascript", "application/javascript"))
    # Swagger UI 5 reads the OpenAPI 3.1 that FastAPI writes (4.x shows "Unable to render this definition").
    assert re.search(r'"5\.\d+\.\d+"', js.text)
    assert service.http.get("/redoc").status_code == 404  # ReDoc would need a CDN


def test_docs_render_in_a_browser_without_internet(pg_service, tmp_path):
    """Headless Chromium, with every request outside the service refused, shows the operations."""
    service = pg_service
    if not (CHROMIUM and CHROMEDRIVER):
        pytest.skip(reason="needs Debian's chromium and chromium-driver")
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service as DriverService
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    options = Options()
    options.binary_location = CHROMIUM
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 f"--user-data-dir={tmp_path / 'profile'}",
                 # Offline: every host but the service's own address resolves nowhere.
                 "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1", "--proxy-server=http://127.0.0.1:9",
                 "--proxy-bypass-list=127.0.0.1"):
        options.add_argument(flag)
    driver = webdriver.Chrome(options=options, service=DriverService(executable_path=CHROMEDRIVER))
    try:
        driver.set_page_load_timeout(30)
        driver.get(f"{service.url}/docs")
        WebDriverWait(driver, 20).until(lambda d: d.find_elements(By.CSS_SELECTOR, ".opblock"))
        text = driver.find_element(By.TAG_NAME, "body").text
        assert "/api/accounts" in text and "/twilio/voice" in text
    finally:
        driver.quit()


def test_metrics_are_closed_unless_a_scrape_token_is_set(pg_service):
    service = pg_service
    assert service.settings.metrics_token is None
    assert service.http.get("/metrics").status_code == 404
    assert service.http.get("/metrics", headers=service.admin()).status_code == 404
    assert "/metrics" not in service.http.get("/openapi.json").text


def test_metrics_answer_only_the_scrape_token(scraped):
    assert scraped.http.get("/metrics").status_code == 401
    assert scraped.http.get("/metrics", headers=scraped.admin()).status_code == 401  # the admin token is not it
    wrong = {"Authorization": f"Bearer {scraped.settings.metrics_token}x"}
    assert scraped.http.get("/metrics", headers=wrong).status_code == 401
    good = scraped.http.get("/metrics", headers={"Authorization": f"Bearer {scraped.settings.metrics_token}"})
    assert good.status_code == 200 and "receptionist_http_request_duration_seconds" in good.text
