"""The REAL Neo4j Browser (served by the local server at /browser/) in headless Debian
Chromium, driven by Playwright: connect through the Browser's form, run the analyst
guide's "top clusters" query on a linked world, check the table against the store,
load the project's style file and check a cluster is drawn with it.

Chromium comes from Debian (``scripts/install-browser.sh``); Playwright's own browser
download is never used. The page may only talk to 127.0.0.1: every other request is
aborted (the Browser asks Google Fonts for its fonts) and recorded.

Screenshots go to the test's tmp_path and to ``test-output/`` in the repository
(gitignored). Without Playwright or Chromium the module is skipped, except under CI
(``CI`` set), where that is a failure.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest

from graph_store.neo4j import server as srv
from graph_store.neo4j.store import Neo4jStore
from linker.pipeline import link
from tests.neo4j.test_cookbook import cookbook

pytestmark = [pytest.mark.neo4j, pytest.mark.xdist_group("neo4j")]

REPO = Path(__file__).resolve().parents[2]
OUTPUT = REPO / "test-output"
IN_CI = bool(os.environ.get("CI"))
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
LOCAL = ("http://127.0.0.1", "ws://127.0.0.1", "data:", "blob:")
CLUSTER_COLOUR = "#D9534F"  # node.Cluster in docs/neo4j/style.grass
TIMEOUT_MS = 60_000
#: domains Browser 5.24 calls even with client.allow_telemetry=false (all blocked here):
#: web fonts, the Segment analytics script, the Canny feedback widget and, now and
#: then, a Sentry error report
KNOWN_OUTSIDE_DOMAINS = (
    "fonts.googleapis.com",
    "fonts.gstatic.com",
    "segment.com",
    "segment.io",
    "canny.io",
    "sentry.io",
)


def _missing(reason: str) -> None:
    if IN_CI:
        pytest.fail(reason, pytrace=False)
    pytest.skip(reason)


def _chromium() -> str:
    path = shutil.which("chromium") or "/usr/bin/chromium"
    if not Path(path).exists():
        _missing("chromium not found: run scripts/install-browser.sh (apt-get install chromium)")
    return path


@pytest.fixture(scope="module")
def sync_playwright() -> Any:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _missing("playwright is not installed (pip install playwright)")
    return sync_playwright


@pytest.fixture(scope="module")
def top_clusters(small_world: Path, neo4j_store: Neo4jStore) -> list[dict[str, Any]]:
    """The latest run's ten riskiest clusters, after linking the world into Neo4j."""
    link(small_world, neo4j_store)
    run = neo4j_store.latest_run()
    assert run is not None
    top = run.clusters.sort_values(
        ["risk", "size", "cluster_id"], ascending=[False, False, True]
    ).head(10)
    return top[["cluster_id", "risk", "size"]].to_dict("records")  # type: ignore[no-any-return]


@pytest.fixture
def page(sync_playwright: Any, tmp_path: Path) -> Iterator[Any]:
    """A fresh headless Chromium page (new profile) that can only reach 127.0.0.1."""
    executable = _chromium()
    blocked: list[str] = []

    def only_loopback(route: Any) -> None:
        if route.request.url.startswith(LOCAL):
            route.continue_()
        else:
            blocked.append(route.request.url)
            route.abort()

    with sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(
            str(tmp_path / "chromium-profile"),
            executable_path=executable,
            args=CHROMIUM_ARGS,
            headless=True,
            viewport={"width": 1400, "height": 1000},
        )
        context.set_default_timeout(TIMEOUT_MS)
        context.route("**/*", only_loopback)
        try:
            page = context.new_page()
            page.blocked = blocked
            yield page
        finally:
            context.close()


def _run(page: Any, text: str) -> Any:
    """Type ``text`` into the Browser's editor (one line) and run it; the new frame."""
    frames = page.get_by_test_id("frame")
    before = frames.count()
    page.get_by_test_id("activeEditor").click()
    page.keyboard.insert_text(" ".join(text.split()))
    page.get_by_test_id("editor-Run").click()
    page.wait_for_function(
        "n => document.querySelectorAll('[data-testid=\"frame\"]').length > n", arg=before
    )
    return frames.first  # the newest frame is on top


def _connect(page: Any, server: srv.ServerStatus) -> None:
    page.goto(f"{server.http_url}/browser/", wait_until="domcontentloaded")
    page.get_by_test_id("bolt-scheme-select").select_option("bolt://")
    page.get_by_test_id("boltaddress").fill(server.bolt_uri.removeprefix("bolt://"))
    page.get_by_test_id("username").fill(srv.USER)
    page.get_by_test_id("password").fill(os.environ.get(srv.ENV_PASSWORD) or srv.DEFAULT_PASSWORD)
    page.get_by_test_id("connect").click()
    page.get_by_text("You are connected as user").first.wait_for()


def _save(page: Any, tmp_path: Path, name: str) -> Path:
    path = tmp_path / name
    page.screenshot(path=str(path))
    OUTPUT.mkdir(exist_ok=True)
    shutil.copyfile(path, OUTPUT / name)
    return path


def test_browser_shows_top_clusters(
    page: Any,
    neo4j_server: srv.ServerStatus,
    top_clusters: list[dict[str, Any]],
    tmp_path: Path,
) -> None:
    _connect(page, neo4j_server)
    frame = _run(page, cookbook()["top-clusters"])
    first = top_clusters[0]["cluster_id"]
    frame.get_by_text(f'"{first}"').wait_for()
    shot = _save(page, tmp_path, "neo4j-browser.png")

    table = frame.get_by_test_id("frameContents").inner_text()
    shown = re.findall(r'"(c_[0-9a-f]+)"', table)
    assert shown == [c["cluster_id"] for c in top_clusters]
    assert str(top_clusters[0]["risk"]) in table
    assert "records" in frame.inner_text()  # "Started streaming 10 records after ..."
    assert shot.stat().st_size > 10_000
    # what the Browser tried to fetch from outside (all of it blocked): a new host
    # here means a new kind of outbound call to look at
    (OUTPUT / "neo4j-browser-blocked.txt").write_text("\n".join(sorted(page.blocked)) + "\n")
    unknown = {
        host
        for host in (urlparse(url).hostname or "" for url in page.blocked)
        if not any(host == d or host.endswith("." + d) for d in KNOWN_OUTSIDE_DOMAINS)
    }
    assert not unknown, unknown


def test_browser_draws_clusters_with_the_style_file(
    page: Any,
    neo4j_server: srv.ServerStatus,
    top_clusters: list[dict[str, Any]],
    tmp_path: Path,
) -> None:
    _connect(page, neo4j_server)
    grass = (REPO / "docs" / "neo4j" / "style.grass").read_text()
    style = _run(page, ":style " + grass)
    style.locator("pre", has_text="node.Cluster").wait_for()
    cluster = top_clusters[0]
    _run(page, f":param cluster_id => '{cluster['cluster_id']}'")
    graph = _run(page, cookbook()["cluster-graph"])
    drawn = graph.locator(f'g.node:has(circle.b-outline[fill="{CLUSTER_COLOUR}"])')
    drawn.first.wait_for()
    _save(page, tmp_path, "neo4j-browser-graph.png")
    assert drawn.count() == 1
    caption = drawn.first.locator("text.caption").text_content() or ""
    assert caption.strip() == f"risk {cluster['risk']}"
    accounts = graph.locator('g.node:has(circle.b-outline[fill="#4C8EDA"])')
    assert accounts.count() >= 2
