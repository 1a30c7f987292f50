"""The rendered quick book, opened page by page in headless Chromium.

Builds the book with the ``quick`` profile (the session fixture ``quick_run`` in conftest.py),
serves ``_build/html`` on 127.0.0.1 and opens every page with Selenium driving Debian's
``chromium`` and ``chromium-driver`` (installed by ``make browser-deps``). A page fails on a
console error, a local link, script, stylesheet or image that does not resolve (including a
``#fragment`` that names no element), anything loaded from the web, a broken image, an error
output of a notebook cell, unrendered or broken math, a notebook page without a figure, its
reproducibility box or its downloads (the executed notebook and ``summary.json``), an
interactive figure that did not draw, a page that loads plotly.js without drawing a figure (or
more than once), and a solution shown before the reader asks for it.

Further tests hover over the interactive head map and layer profile of chapter 03 as a reader
would and compare what the hover label says with the run's result files; download every linked
file; search the book; and open the book from ``file://`` with the same checks of figures and
search. No HTML file names a CDN or loads a script from the web.

Screenshots of the landing page, the results chapter, a notebook page and the hovered head map
at laptop width (1366 × 900) go to ``test-artifacts/`` (git-ignored).

Without Chromium the tests are skipped, except in CI (``CI=true``), where that is a failure.
"""

from __future__ import annotations

import functools
import http.server
import json
import os
import re
import shutil
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

from synergy_utils.report.tables import verdict_rows
from synergy_utils.summary import read_summary

pytestmark = [pytest.mark.browser, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[1]
ARTIFACTS = REPO / "test-artifacts"
CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
WINDOW = (1366, 900)
CHROME_ARGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--hide-scrollbars",
    f"--window-size={WINDOW[0]},{WINDOW[1]}",
)
# Folders of the built site that hold assets, not pages.
ASSET_DIRS = {"_static", "_sources", "_images", "_sphinx_design_static"}


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}


@pytest.fixture(scope="session")
def chromium() -> tuple[str, str]:
    """Paths of chromium and chromedriver; skip (fail in CI) when they are missing."""
    chrome = CHROMIUM if Path(CHROMIUM).exists() else shutil.which("chromium")
    driver = CHROMEDRIVER if Path(CHROMEDRIVER).exists() else shutil.which("chromedriver")
    if not chrome or not driver:
        missing = [
            name for name, path in (("chromium", chrome), ("chromedriver", driver)) if not path
        ]
        reason = (
            f"headless Chromium is not installed ({' and '.join(missing)} missing); "
            "install it with `make browser-deps` "
            "(apt-get install chromium chromium-driver)"
        )
        if _in_ci():
            pytest.fail(f"CI=true and {reason}")
        pytest.skip(reason)
    return chrome, driver


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address, handler):
        super().__init__(address, handler)
        self.failures: list[tuple[int, str]] = []


class _Handler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # noqa: A002 - keep the test output clean
        pass

    def send_error(self, code, message=None, explain=None):
        self.server.failures.append((code, self.path))
        super().send_error(code, message, explain)


@pytest.fixture(scope="session")
def built_book(chromium, request) -> tuple[Path, Path]:
    """(results_dir, html_dir) of the quick run; ``SYNERGY_BOOK_RUN=DIR`` reuses a finished
    ``synergy run --out DIR/results --book-dir DIR`` instead of running the pipeline."""
    reuse = os.environ.get("SYNERGY_BOOK_RUN")
    if reuse:
        return Path(reuse) / "results", Path(reuse) / "_build" / "html"
    return request.getfixturevalue("quick_run")


@pytest.fixture(scope="session")
def site(built_book) -> Iterator[tuple[str, Path, _Server]]:
    """(base URL, html folder, server) for the quick book served on a free local port."""
    _, html_dir = built_book
    assert (html_dir / "index.html").exists(), f"the quick run built no book in {html_dir}"
    server = _Server(("127.0.0.1", 0), functools.partial(_Handler, directory=str(html_dir)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}", html_dir, server
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="session")
def driver(chromium):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    chrome, chromedriver = chromium
    options = webdriver.ChromeOptions()
    options.binary_location = chrome
    for arg in CHROME_ARGS:
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    drv = webdriver.Chrome(service=Service(chromedriver), options=options)
    drv.set_page_load_timeout(60)
    drv.set_script_timeout(30)
    try:
        yield drv
    finally:
        drv.quit()


def _pages(html_dir: Path) -> list[Path]:
    return sorted(
        p
        for p in html_dir.rglob("*.html")
        if not ASSET_DIRS.intersection(p.relative_to(html_dir).parts)
    )


def _is_notebook_page(html_dir: Path, rel: str) -> bool:
    """Was this page built from a notebook? (Sphinx keeps the source in _sources/.)"""
    return (html_dir / "_sources" / Path(rel).with_suffix(".ipynb")).exists()


# JavaScript run in each page -------------------------------------------------------------

_WAIT_FOR_PAGE = """
const done = arguments[arguments.length - 1];
const images = Array.from(document.images);
images.forEach(img => { img.loading = 'eager'; });
const decoded = images.map(img => img.decode().catch(() => null));
const math = (window.MathJax && MathJax.startup && MathJax.startup.promise)
  ? MathJax.startup.promise.catch(e => null) : Promise.resolve();
Promise.all([...decoded, math]).then(() => done(true));
"""

_INSPECT_PAGE = """
const urls = [];
const add = (el, attr) => urls.push({tag: el.tagName.toLowerCase(), url: el[attr] || ''});
document.querySelectorAll('a[href]').forEach(el => add(el, 'href'));
document.querySelectorAll('link[href]').forEach(el => add(el, 'href'));
document.querySelectorAll('script[src], img[src], iframe[src], source[src], embed[src]')
  .forEach(el => add(el, 'src'));
const visible = el => {
  const style = getComputedStyle(el);
  return style.display !== 'none' && style.visibility !== 'hidden'
    && el.getClientRects().length > 0;
};
return {
  title: Array.from(document.querySelectorAll('h1'))
    .filter(h => !h.closest('.onlyprint')).map(h => h.textContent.trim()).join(' ') || '',
  urls: urls,
  brokenImages: Array.from(document.images)
    .filter(img => !(img.complete && img.naturalWidth > 0)).map(img => img.src),
  errorOutputs: document.querySelectorAll(
    '.output.error, .output.traceback, .cell_output .traceback').length,
  figures: Array.from(document.querySelectorAll('.cell_output img'))
    .filter(img => img.naturalWidth > 0).length,
  reproBox: document.querySelectorAll('.admonition.reproducibility').length,
  mathSource: document.querySelectorAll('.math, span.math, div.math').length,
  mathRendered: document.querySelectorAll('mjx-container').length,
  mathErrors: document.querySelectorAll('mjx-merror').length,
  solutionsShown: Array.from(document.querySelectorAll('.solution.dropdown'))
    .filter(sol => Array.from(sol.children)
      .filter(c => !c.classList.contains('admonition-title')).some(visible)).length,
  solutions: document.querySelectorAll('.solution').length,
  exercises: document.querySelectorAll('.exercise').length,
  interactive: Array.from(document.querySelectorAll('.synergy-interactive')).map(el => ({
    kind: el.dataset.kind,
    drawn: el.classList.contains('js-plotly-plot') && !!el.querySelector('svg.main-svg')
      && !!(el.data && el.data.length),
  })),
  plotlyScripts: document.querySelectorAll('script[src*="plotly.min.js"]').length,
  downloads: Array.from(document.querySelectorAll('.admonition.downloads a.download'))
    .map(a => ({text: a.textContent.trim(), href: a.href})),
};
"""


def _local_target(url: str, base: str, html_dir: Path) -> tuple[Path, str] | None:
    """(file on disk, fragment) of a same-site URL; None for another origin."""
    if not url.startswith(base + "/"):
        return None
    parts = urlsplit(url)
    path = html_dir / unquote(parts.path).lstrip("/")
    if path.is_dir():
        path = path / "index.html"
    return path, unquote(parts.fragment)


def _has_anchor(page: Path, fragment: str, cache: dict[Path, str]) -> bool:
    if page not in cache:
        cache[page] = page.read_text(errors="replace")
    text = cache[page]
    return f'id="{fragment}"' in text or f'name="{fragment}"' in text


def _check_page(driver, base: str, html_dir: Path, page: Path, cache: dict) -> tuple[list, dict]:
    rel = page.relative_to(html_dir).as_posix()
    problems: list[str] = []
    driver.get(f"{base}/{rel}")
    driver.execute_async_script(_WAIT_FOR_PAGE)
    info = driver.execute_script(_INSPECT_PAGE)
    for entry in driver.get_log("browser"):
        if entry.get("level") == "SEVERE":
            problems.append(f"console error: {entry.get('message')}")
    if not info["title"].strip():
        problems.append("no top-level title (h1)")
    for item in info["urls"]:
        url, tag = item["url"], item["tag"]
        if not url or url.startswith(("mailto:", "javascript:", "data:", "about:")):
            continue
        target = _local_target(url, base, html_dir)
        if target is None:
            if tag != "a":
                problems.append(f"<{tag}> loads from outside the book: {url}")
            continue
        path, fragment = target
        if not path.exists():
            problems.append(f"broken {tag} link: {url}")
        elif fragment and path.suffix == ".html" and not _has_anchor(path, fragment, cache):
            problems.append(f"link to a missing anchor: {url}")
    problems += [f"broken image: {src}" for src in info["brokenImages"]]
    if info["errorOutputs"]:
        problems.append(f"{info['errorOutputs']} error output(s) in notebook cells")
    if info["mathSource"] and not info["mathRendered"]:
        problems.append("math on the page was not rendered by MathJax")
    if info["mathErrors"]:
        problems.append(f"{info['mathErrors']} MathJax error(s)")
    if info["solutionsShown"]:
        problems.append(f"{info['solutionsShown']} solution(s) visible before a click")
    problems += [
        f"interactive {f['kind']} not drawn" for f in info["interactive"] if not f["drawn"]
    ]
    expected_scripts = 1 if info["interactive"] else 0
    if info["plotlyScripts"] != expected_scripts:
        problems.append(f"plotly.min.js loaded {info['plotlyScripts']} times")
    if _is_notebook_page(html_dir, rel):
        if info["figures"] == 0:
            problems.append("notebook page without a figure")
        if info["reproBox"] != 1:
            problems.append(f"{info['reproBox']} reproducibility boxes (expected 1)")
        texts = [d["text"] for d in info["downloads"]]
        if f"{Path(rel).stem}.ipynb" not in texts or "summary.json" not in texts:
            problems.append(f"downloads lack the executed notebook or summary.json: {texts}")
    return problems, info


def _screenshot(driver, path: Path, selector: str | None = None) -> None:
    """Viewport screenshot at laptop size, scrolled to ``selector`` if given."""
    from selenium.webdriver.common.by import By

    driver.set_window_size(*WINDOW)
    driver.execute_script("window.scrollTo(0, 0)")
    if selector:
        elements = driver.find_elements(By.CSS_SELECTOR, selector)
        if elements:
            driver.execute_script(
                "arguments[0].scrollIntoView({block: 'start'}); window.scrollBy(0, -70);",
                elements[0],
            )
    time.sleep(0.3)
    driver.save_screenshot(str(path))


def test_every_page_renders_cleanly(site, driver):
    base, html_dir, server = site
    pages = _pages(html_dir)
    assert len(pages) >= 10, f"only {len(pages)} pages in {html_dir}"
    cache: dict[Path, str] = {}
    report: dict[str, list[str]] = {}
    summary_rows = []
    for page in pages:
        problems, info = _check_page(driver, base, html_dir, page, cache)
        rel = page.relative_to(html_dir).as_posix()
        if problems:
            report[rel] = problems
        summary_rows.append(
            {
                "page": rel,
                "figures": info["figures"],
                "exercises": info["exercises"],
                "solutions": info["solutions"],
                "math": info["mathRendered"],
                "interactive": [f["kind"] for f in info["interactive"]],
                "downloads": [d["text"] for d in info["downloads"]],
            }
        )
    if server.failures:
        report["(server)"] = [f"HTTP {code} for {path}" for code, path in server.failures]
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "browser-pages.json").write_text(
        json.dumps({"pages": summary_rows, "problems": report}, indent=2)
    )
    notebook_pages = [r["page"] for r in summary_rows if _is_notebook_page(html_dir, r["page"])]
    assert notebook_pages, "no notebook page was built"
    assert not report, "pages with problems:\n" + "\n".join(
        f"{rel}:\n  - " + "\n  - ".join(problems) for rel, problems in report.items()
    )


def test_landing_page_shows_the_verdicts_of_this_run(site, driver, built_book):
    from selenium.webdriver.common.by import By

    base, html_dir, _ = site
    results_dir, _ = built_book
    summary = read_summary(results_dir)
    driver.get(f"{base}/index.html")  # redirects to the landing page
    driver.execute_async_script(_WAIT_FOR_PAGE)
    title = driver.find_element(By.CSS_SELECTOR, "article.bd-article h1").text.strip()
    assert title.startswith("Synergistic cores")
    rows = driver.find_elements(
        By.XPATH, "//table[.//th[contains(., 'Claim / control')]]//tbody/tr"
    )

    def plain(text: str) -> str:  # the renderer turns ' into a typographic quote
        return text.strip().replace("\u2019", "'").replace("\u2018", "'")

    shown = [[plain(td.text) for td in row.find_elements(By.TAG_NAME, "td")] for row in rows]
    expected = verdict_rows(summary)
    assert [cells[0] for cells in shown] == [row[0] for row in expected]
    assert [cells[3] for cells in shown] == [row[3] for row in expected]
    driver.get_log("browser")  # drop this page's log


def test_screenshots_at_laptop_width(site, driver):
    base, html_dir, _ = site
    ARTIFACTS.mkdir(exist_ok=True)
    for old in ARTIFACTS.glob("*.png"):  # screenshots of an earlier run
        old.unlink()
    driver.get(f"{base}/book/intro.html")
    driver.execute_async_script(_WAIT_FOR_PAGE)
    _screenshot(driver, ARTIFACTS / "landing.png")
    _screenshot(driver, ARTIFACTS / "landing-verdicts.png", "#verdicts-on-the-default-model")

    driver.get(f"{base}/book/results.html")
    driver.execute_async_script(_WAIT_FOR_PAGE)
    _screenshot(driver, ARTIFACTS / "results-first-figure.png", "figure")

    notebook_pages = [
        p
        for p in _pages(html_dir)
        if _is_notebook_page(html_dir, p.relative_to(html_dir).as_posix())
    ]
    preferred = [p for p in notebook_pages if p.stem == "03_synergistic_cores"]
    page = (preferred or notebook_pages)[0]
    driver.get(f"{base}/{page.relative_to(html_dir).as_posix()}")
    driver.execute_async_script(_WAIT_FOR_PAGE)
    _screenshot(driver, ARTIFACTS / f"notebook-{page.stem}.png")
    _screenshot(driver, ARTIFACTS / f"notebook-{page.stem}-figure.png", ".cell_output img")
    driver.get_log("browser")
    for name in ("landing.png", "landing-verdicts.png", f"notebook-{page.stem}.png"):
        shot = ARTIFACTS / name
        assert shot.exists() and shot.stat().st_size > 10_000, f"{shot} is missing or empty"


# Interactive figures, downloads, search, file:// ------------------------------------------

CORES_PAGE = "book/notebooks/03_synergistic_cores.html"
HEAD_MAP = '.synergy-interactive[data-kind="head-map"]'
LAYER_PROFILE = '.synergy-interactive[data-kind="layer-profile"]'
_NUMBER = r"(-?\d+(?:\.\d+)?(?:e-?\d+)?)"

_WAIT_FOR_PLOT = """
const [selector, done] = [arguments[0], arguments[arguments.length - 1]];
const start = Date.now();
(function poll() {
  const el = document.querySelector(selector);
  if (el && el.classList.contains('js-plotly-plot') && el.querySelector('svg.main-svg')) {
    done(true);
  } else if (Date.now() - start > 20000) {
    done(false);
  } else {
    setTimeout(poll, 100);
  }
})();
"""

_HOVER_LINES = """
const layer = document.querySelector(arguments[0] + ' .hoverlayer');
if (!layer) { return []; }
const lines = Array.from(layer.querySelectorAll('text')).map(t => {
  const spans = t.querySelectorAll('tspan.line');
  return spans.length ? Array.from(spans).map(s => s.textContent) : [t.textContent];
});
return lines.flat().map(s => s.replace(/\\u2212/g, '-').trim()).filter(s => s);
"""


def _open_figure(driver, url: str, selector: str) -> None:
    driver.get(url)
    driver.execute_async_script(_WAIT_FOR_PAGE)
    assert driver.execute_async_script(_WAIT_FOR_PLOT, selector), f"{selector} not drawn at {url}"


def _hover(driver, selector: str, dx: float = 0.0, dy: float = 0.0) -> list[str]:
    """Move the mouse over the plot area of ``selector`` (offset from its centre, as fractions
    of its size) as a reader would; return the lines of the hover label."""
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By

    figure = driver.find_element(By.CSS_SELECTOR, selector)
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'});", figure)
    area = figure.find_element(By.CSS_SELECTOR, ".nsewdrag")
    size = area.size
    actions = ActionChains(driver)
    actions.move_to_element_with_offset(area, int(size["width"] * dx), int(size["height"] * dy))
    actions.perform()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        lines = driver.execute_script(_HOVER_LINES, selector)
        if lines:
            return lines
        time.sleep(0.1)
    return []


def _head_map_hover_matches_the_results(lines: list[str], results_dir: Path) -> None:
    import numpy as np
    import pandas as pd
    import xarray as xr

    text = "\n".join(lines)
    where = re.search(r"layer (\d+), head (\d+)", text)
    assert where, f"the hover label names no head:\n{text}"
    layer, head = int(where.group(1)), int(where.group(2))
    shown = {
        key: float(re.search(rf"{label}: {_NUMBER}", text).group(1))
        for key, label in (("delta", "null-corrected synergy Δsts"),
                           ("synergy", r"synergy sts \(raw\)"), ("redundancy", "redundancy rtr"),
                           ("gradient", r"gradient \(luppi\)"))
        if re.search(rf"{label}: {_NUMBER}", text)
    }  # fmt: skip
    assert set(shown) == {"delta", "synergy", "redundancy", "gradient"}, text
    table = pd.read_csv(results_dir / "head_scores.csv").set_index(["layer", "head"])
    row = table.loc[(layer, head)]
    with xr.open_dataset(results_dir / "cores_null_mmi.nc") as nulls:
        delta = float(nulls["head_delta"].sel(atom="sts").mean("prompt").values[layer, head])
    assert np.isclose(shown["delta"], delta, atol=6e-5), (shown, delta)
    assert np.isclose(shown["synergy"], row["synergy"], atol=6e-5), (shown, row)
    assert np.isclose(shown["redundancy"], row["redundancy"], atol=6e-5), (shown, row)
    assert np.isclose(shown["gradient"], row["gradient_luppi"], atol=0.06), (shown, row)


def test_interactive_figures_draw_and_hover_shows_each_heads_numbers(site, driver, built_book):
    base, _, _ = site
    results_dir, _ = built_book
    _open_figure(driver, f"{base}/{CORES_PAGE}", HEAD_MAP)
    for dx, dy in ((0.0, 0.0), (-0.3, 0.3), (0.3, -0.35)):  # three heads
        lines = _hover(driver, HEAD_MAP, dx, dy)
        _head_map_hover_matches_the_results(lines, results_dir)
    ARTIFACTS.mkdir(exist_ok=True)
    driver.save_screenshot(str(ARTIFACTS / "interactive-head-map.png"))
    buttons = driver.execute_script(
        "return Array.from(document.querySelectorAll('.synergy-interactive .modebar-btn'))"
        ".map(b => b.getAttribute('data-title'))"
    )
    assert "Download plot as a PNG" in buttons
    assert not [b for b in buttons if "share" in b.lower() or "cloud" in b.lower()], buttons

    assert driver.execute_async_script(_WAIT_FOR_PLOT, LAYER_PROFILE)
    lines = _hover(driver, LAYER_PROFILE, 0.0, 0.0)
    text = "\n".join(lines)
    for words in ("layer", "bootstrap band", "circular-shift null"):
        assert words in text, f"the layer profile's hover lacks {words!r}:\n{text}"
    assert re.search(rf"\(luppi\): {_NUMBER}", text), text
    driver.save_screenshot(str(ARTIFACTS / "interactive-layer-profile.png"))
    errors = [e for e in driver.get_log("browser") if e.get("level") == "SEVERE"]
    assert not errors, errors


def _download_links(page: Path) -> list[tuple[str, str]]:
    """(href, file name) of the links in the page's downloads box."""
    text = page.read_text()
    box = re.search(r'<div class="[^"]*\bdownloads\b[^"]*">(.*?)</div>', text, flags=re.S)
    assert box, f"{page.name} has no downloads box"
    return re.findall(
        r'<a class="reference download internal" download="" href="([^"]+)">'
        r'<code[^>]*><span class="pre">([^<]+)</span>',
        box.group(1),
    )


def test_download_links_serve_the_runs_own_files(site, built_book):
    import nbformat

    from synergy_utils.report.book import result_files

    base, html_dir, _ = site
    results_dir, _ = built_book
    pages = [
        p
        for p in _pages(html_dir)
        if _is_notebook_page(html_dir, p.relative_to(html_dir).as_posix())
    ]
    assert pages
    for page in pages:
        links = _download_links(page)
        names = [name for _, name in links]
        assert f"{page.stem}.ipynb" in names and "summary.json" in names, (page.name, names)
        folder = page.parent.relative_to(html_dir).as_posix()
        files = {path.name: path for path in result_files(results_dir, page.stem)}
        for href, name in links:
            with urllib.request.urlopen(f"{base}/{folder}/{href}", timeout=30) as response:
                assert response.status == 200
                body = response.read()
            if name.endswith(".ipynb"):
                nb = nbformat.reads(body.decode(), as_version=4)
                assert any(c.get("outputs") for c in nb.cells if c.cell_type == "code")
            else:
                source = files.get(name) or results_dir / name
                assert body == source.read_bytes(), f"{page.name}: {name} differs from {source}"
    cores = _download_links(html_dir / CORES_PAGE)
    assert {"head_scores.csv", "cores.nc"} <= {name for _, name in cores}


_SEARCH_RESULTS = """
const done = arguments[arguments.length - 1];
const start = Date.now();
(function poll() {
  const summary = document.querySelector('#search-results .search-summary');
  const finished = summary && /found/i.test(summary.textContent);
  if (finished || Date.now() - start > 30000) {
    const items = document.querySelectorAll('#search-results li a');
    done(items.length ? Array.from(items).map(a => a.href) : [summary ? summary.textContent : '']);
  } else {
    setTimeout(poll, 200);
  }
})();
"""


def _search(driver, url: str) -> list[str]:
    driver.get(url)
    return driver.execute_async_script(_SEARCH_RESULTS)


def test_search_finds_pages_offline(site, driver):
    base, html_dir, _ = site
    hits = _search(driver, f"{base}/search.html?q=synergy")
    pages = [h for h in hits if h.startswith(base)]
    assert len(pages) >= 3, f"search for 'synergy' found {hits}"
    for hit in pages:
        target = _local_target(hit, base, html_dir)
        assert target and target[0].exists(), hit
    assert any("03_synergistic_cores" in h for h in pages), pages
    errors = [e for e in driver.get_log("browser") if e.get("level") == "SEVERE"]
    assert not errors, errors


def test_the_book_works_from_file_urls(site, driver, built_book):
    _, html_dir, _ = site
    results_dir, _ = built_book
    _open_figure(driver, (html_dir / CORES_PAGE).as_uri(), HEAD_MAP)
    _head_map_hover_matches_the_results(_hover(driver, HEAD_MAP), results_dir)
    hits = _search(driver, (html_dir / "search.html").as_uri() + "?q=ablation")
    assert any(h.startswith("file://") and "05_ablation" in h for h in hits), hits
    driver.get_log("browser")


def test_no_page_names_a_cdn_and_plotly_js_is_bundled_once(built_book):
    from synergy_utils.report.interactive import plotly_js_path

    _, html_dir = built_book
    web_script = re.compile(r"<script\b[^>]*\bsrc=[\"'](?:https?:)?//", re.I)
    cdns = ("cdn.plot.ly", "cdn.jsdelivr", "unpkg.com", "cdnjs", "require.js")
    for page in html_dir.rglob("*.html"):
        text = page.read_text(errors="replace")
        assert not web_script.search(text), f"{page} loads a script from the web"
        found = [name for name in cdns if name in text]
        assert not found, f"{page} names {found}"
    copies = sorted(p.relative_to(html_dir).as_posix() for p in html_dir.rglob("plotly*.js"))
    assert copies == ["_static/plotly.min.js"], copies
    assert (html_dir / "_static/plotly.min.js").read_bytes() == plotly_js_path().read_bytes()
