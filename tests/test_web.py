"""The web page of `rag serve` in a real headless Chromium (Debian's chromium + chromium-driver,
driven by Selenium) against a real server process with the fake backends. Screenshots of the
answer and archive views at desktop and phone width go to bench-results/screenshots/."""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from rag.cli import app
from tests.test_serve import Served

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
DRIVER = shutil.which("chromedriver")
pytestmark = [
    pytest.mark.slow,  # a real browser: seconds per test
    pytest.mark.skipif(
        not (CHROMIUM and DRIVER),
        reason="chromium and chromium-driver are not installed (make install: apt-get)",
    ),
]
SHOTS = Path(__file__).resolve().parents[1] / "bench-results" / "screenshots"
runner = CliRunner()

HOSTILE = """# Notas de seguridad

El laboratorio abre a las ocho. <script>window.pwned = 1</script> Trae bata.

<img src=x onerror="window.pwned = 2"> La contraseña del wifi es pizarra42.
"""


@pytest.fixture()
def browser() -> Iterator[Any]:
    pytest.importorskip("selenium")
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    options = Options()
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--lang=en-US"):
        options.add_argument(flag)
    assert CHROMIUM is not None and DRIVER is not None
    options.binary_location = CHROMIUM
    driver = webdriver.Chrome(service=Service(DRIVER), options=options)
    driver.set_window_size(1280, 900)
    yield driver
    driver.quit()


@pytest.fixture()
def site(monkeypatch: pytest.MonkeyPatch, corpus_copy: Path, rag_home: Path) -> Iterator[Served]:
    monkeypatch.setenv("RAG_GENERATOR_BACKEND", "scripted")
    monkeypatch.setenv("RAG_GENERATOR", "0.02")
    # Wider hashed vectors collide less: at 64 dimensions which talk ranks first moved with the chunk size.
    monkeypatch.setenv("RAG_EMBEDDER", "1024")
    (corpus_copy / "notes" / "seguridad.md").write_text(HOSTILE, encoding="utf-8")
    assert runner.invoke(app, ["ingest", str(corpus_copy)]).exit_code == 0
    server = Served(rag_home)
    yield server
    server.stop()


def _ask(driver: Any, question: str, n: int) -> Any:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    box = driver.find_element(By.ID, "question")
    box.send_keys(question + "\n")
    WebDriverWait(driver, 30).until(lambda d: len(d.find_elements(By.CSS_SELECTOR, ".turn[data-done]")) >= n)
    return driver.find_elements(By.CSS_SELECTOR, ".turn")[n - 1]


def test_ask_stream_cite_show_and_follow_up(browser: Any, site: Served) -> None:
    from selenium.webdriver.common.by import By

    browser.get(site.url)
    turn = _ask(browser, "How many layers did ResNet train on ImageNet with residual connections?", 1)
    assert float(turn.get_attribute("data-first-token-ms")) > 0  # tokens arrived one by one
    answer = turn.find_element(By.CSS_SELECTOR, ".a").text
    chips = turn.find_elements(By.CSS_SELECTOR, ".chip")
    assert answer.endswith("[1].") and chips
    label = chips[0].text
    assert (
        "Deep Learning 01" in label and "Dr. Alice Moreno" in label and "–" in label
    )  # talk, speaker, times
    SHOTS.mkdir(parents=True, exist_ok=True)
    browser.save_screenshot(str(SHOTS / "answer-desktop.png"))
    chips[0].click()
    time.sleep(0.2)
    passage = browser.find_element(By.ID, "passage-text")
    assert browser.find_element(By.ID, "passage").get_attribute("open") is not None
    marked = passage.find_elements(By.TAG_NAME, "mark")
    assert marked and marked[0].text and marked[0].text in passage.text
    assert "Dr. Alice Moreno" in browser.find_element(By.ID, "passage-meta").text
    browser.save_screenshot(str(SHOTS / "passage-desktop.png"))
    browser.find_element(By.CSS_SELECTOR, "#passage form button").click()

    follow = _ask(browser, "And who said that?", 2)
    assert follow.find_elements(By.CSS_SELECTOR, ".chip")
    saved = json.loads((site.home / "sessions").glob("web-*.json").__next__().read_text())
    assert [t["kind"] for t in saved["turns"]] == ["standalone", "speaker"]  # one conversation, with memory
    browser.set_window_size(390, 844)
    browser.save_screenshot(str(SHOTS / "answer-phone.png"))


def test_document_markup_renders_as_text(browser: Any, site: Served) -> None:
    from selenium.webdriver.common.by import By

    browser.get(site.url)
    browser.find_element(By.CSS_SELECTOR, "[data-view=search]").click()
    browser.find_element(By.ID, "search-q").send_keys("contraseña del wifi laboratorio bata\n")
    time.sleep(1.0)
    results = browser.find_element(By.ID, "results").text
    assert (
        "<script>window.pwned = 1</script>" in results and '<img src=x onerror="window.pwned = 2">' in results
    )
    assert browser.execute_script("return window.pwned === undefined")
    assert not browser.find_elements(By.CSS_SELECTOR, "#results script, #results img")


def test_archive_lists_talks_with_metadata_and_filters(browser: Any, site: Served) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    browser.get(site.url)
    browser.find_element(By.CSS_SELECTOR, "[data-view=archive]").click()
    time.sleep(1.0)
    cards = browser.find_elements(By.CSS_SELECTOR, "#documents li")
    assert len(cards) == 10
    text = browser.find_element(By.ID, "documents").text
    assert "Dr. Alice Moreno" in text and "2025-02-10" in text
    SHOTS.mkdir(parents=True, exist_ok=True)
    browser.save_screenshot(str(SHOTS / "archive-desktop.png"))
    Select(browser.find_element(By.ID, "f-speaker")).select_by_visible_text("Dr. Alice Moreno")
    time.sleep(0.2)
    shown = browser.find_elements(By.CSS_SELECTOR, "#documents li")
    assert 0 < len(shown) < 10 and all("Dr. Alice Moreno" in c.text for c in shown)
    Select(browser.find_element(By.ID, "f-speaker")).select_by_index(0)
    Select(browser.find_element(By.ID, "f-lang")).select_by_visible_text("es")
    time.sleep(0.2)
    spanish = browser.find_elements(By.CSS_SELECTOR, "#documents li")
    assert spanish and all(c.get_attribute("data-lang") == "es" for c in spanish)
    browser.set_window_size(390, 844)
    browser.save_screenshot(str(SHOTS / "archive-phone.png"))
    browser.find_element(By.ID, "ui-lang").send_keys("Español")
    assert browser.find_element(By.CSS_SELECTOR, "[data-view=archive]").text == "Archivo"


def test_the_page_adds_little_to_the_first_token(browser: Any, site: Served) -> None:
    """Enter → first token shown, against the API's own first token for the same question (a
    direct streaming client), both warm: the page may add at most 0.3 s."""
    question = {"question": "What does the k1 parameter of BM25 control?"}
    direct = []
    for _ in range(3):
        t = time.perf_counter()
        with httpx.stream("POST", site.url + "/api/ask", json=question, timeout=30) as reply:
            for line in reply.iter_lines():
                if line.startswith("event: token"):
                    direct.append(time.perf_counter() - t)
                    break
    browser.get(site.url)
    page = []
    for n in range(1, 4):
        turn = _ask(browser, question["question"], n)
        page.append(float(turn.get_attribute("data-first-token-ms")) / 1000)
    assert min(page) - min(direct) <= 0.3, (page, direct)


def test_ingest_from_the_page(browser: Any, site: Served, tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    docs = tmp_path / "new"
    docs.mkdir()
    (docs / "cebras.md").write_text("# Cebras\n\nLa manada de cebras cuenta 417 animales.\n")
    (docs / "roto.pdf").write_bytes(b"%PDF-1.4 not really")
    browser.get(site.url)
    browser.find_element(By.CSS_SELECTOR, "[data-view=ingest]").click()
    browser.find_element(By.ID, "ingest-path").send_keys(str(docs))
    browser.find_element(By.CSS_SELECTOR, "#ingest-form button").click()
    WebDriverWait(browser, 30).until(lambda d: d.find_element(By.ID, "ingest-status").text.startswith("Done"))
    assert "added 1" in browser.find_element(By.ID, "ingest-status").text
    problems = browser.find_element(By.ID, "ingest-problems").text
    assert "roto.pdf" in problems and "failed" in problems  # the same failure report as the CLI
    upload = tmp_path / "subida.txt"
    upload.write_text("Las jirafas del parque son 23.\n")
    browser.find_element(By.ID, "upload-files").send_keys(str(upload))
    browser.find_element(By.CSS_SELECTOR, "#upload-form button").click()
    WebDriverWait(browser, 30).until(lambda d: "added 1" in d.find_element(By.ID, "ingest-status").text)
    assert (site.home / "uploads" / "default" / "subida.txt").exists()
