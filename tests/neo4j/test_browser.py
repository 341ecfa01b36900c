"""The REAL Neo4j Browser (served by the local server at /browser/) in headless Debian
Chromium, driven by Playwright: connect through the Browser's form, check that the
project's style and guide are there on connect (``browser.post_connect_cmd``), run the
analyst guide's "top clusters" query on a linked world and check the table against the
store, and check a cluster is drawn with the style's colours and captions.

Chromium comes from Debian (``scripts/install-browser.sh``); Playwright's own browser
download is never used. The page may only talk to 127.0.0.1: every other request is
aborted and recorded. The server's Content-Security-Policy already stops the Browser's
outside calls (fonts, analytics, feedback widget, error reports) inside Chromium; those
refusals are read from the console and listed in ``test-output/neo4j-browser-blocked.txt``.

Screenshots go to the test's tmp_path and to ``test-output/`` in the repository
(gitignored). Without Playwright or Chromium the module is skipped, except under CI
(``CI`` set), where that is a failure. ``tests/neo4j/test_guide.py`` walks the guide.
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
CLUSTER_COLOUR = "#D9534F"  # node.Cluster in the style
ACCOUNT_COLOUR = "#4C8EDA"  # node.Account
TIMEOUT_MS = 60_000
#: a console message of Chromium refusing a URL under the page's Content-Security-Policy
CSP_REFUSAL = re.compile(r"'(https?://[^']+)'.*Content Security Policy|(https?://\S+)\. Refused")
#: domains Browser 5.24 calls even with client.allow_telemetry=false (refused by the
#: server's Content-Security-Policy): web fonts, the Segment analytics script, the
#: Canny feedback widget and, now and then, a Sentry error report
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
    latest = neo4j_store.latest_run()
    assert latest is not None
    top = latest.clusters.sort_values(
        ["risk", "size", "cluster_id"], ascending=[False, False, True]
    ).head(10)
    return top[["cluster_id", "risk", "size"]].to_dict("records")  # type: ignore[no-any-return]


@pytest.fixture
def page(sync_playwright: Any, tmp_path: Path) -> Iterator[Any]:
    """A fresh headless Chromium page (new profile) that can only reach 127.0.0.1.
    ``page.blocked``: URLs aborted at the network; ``page.refused``: URLs Chromium
    refused under the page's Content-Security-Policy (never sent)."""
    executable = _chromium()
    blocked: list[str] = []
    refused: list[str] = []

    def on_console(message: Any) -> None:
        found = CSP_REFUSAL.search(message.text)
        if found:
            refused.append(found.group(1) or found.group(2))

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
            page.refused = refused
            page.on("console", on_console)
            yield page
        finally:
            context.close()


def mark_frames(page: Any) -> None:
    """Tag the result frames on screen, so that :func:`new_frame` can tell the next one
    (the Browser keeps at most 15 frames: counting them does not work)."""
    page.evaluate(
        "() => document.querySelectorAll('[data-testid=\"frame\"]')"
        ".forEach(f => { f.dataset.seen = '1'; })"
    )


def new_frame(page: Any) -> Any:
    """The frame that appeared (on top) since :func:`mark_frames`."""
    page.wait_for_function(
        "() => { const f = document.querySelector('[data-testid=\"frame\"]');"
        " return f !== null && !f.dataset.seen; }"
    )
    return page.get_by_test_id("frame").first


def run(page: Any, text: str) -> Any:
    """Type ``text`` into the Browser's editor (one line) and run it; the new frame."""
    mark_frames(page)
    page.get_by_test_id("activeEditor").click()
    page.keyboard.insert_text(" ".join(text.split()))
    page.get_by_test_id("editor-Run").click()
    return new_frame(page)


def node_captions(frame: Any, colour: str) -> list[str]:
    """The captions (lines joined by spaces) of the nodes drawn in ``colour``."""
    return frame.evaluate(  # type: ignore[no-any-return]
        """(f, colour) => Array.from(f.querySelectorAll('g.node'))
             .filter(n => n.querySelector(`circle.b-outline[fill="${colour}"]`))
             .map(n => Array.from(n.querySelectorAll('text.caption'))
               .map(t => t.textContent.trim()).join(' ').trim())""",
        colour,
    )


def outside_hosts(urls: list[str]) -> set[str]:
    """Hosts of ``urls`` that are not among KNOWN_OUTSIDE_DOMAINS."""
    return {
        host
        for host in (urlparse(url).hostname or "" for url in urls)
        if not any(host == d or host.endswith("." + d) for d in KNOWN_OUTSIDE_DOMAINS)
    }


def connect(page: Any, server: srv.ServerStatus) -> None:
    """Open the Browser of ``server``, connect with the form, wait until connected."""
    page.goto(f"{server.http_url}/browser/", wait_until="domcontentloaded")
    page.get_by_test_id("bolt-scheme-select").select_option("bolt://")
    page.get_by_test_id("boltaddress").fill(server.bolt_uri.removeprefix("bolt://"))
    page.get_by_test_id("username").fill(srv.USER)
    page.get_by_test_id("password").fill(os.environ.get(srv.ENV_PASSWORD) or srv.DEFAULT_PASSWORD)
    page.get_by_test_id("connect").click()
    page.get_by_text("You are connected as user").first.wait_for()


def save(page: Any, tmp_path: Path, name: str) -> Path:
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
    connect(page, neo4j_server)
    # the commands run on connect (:config, :style) add frames of their own: let them
    # land first, so the query's frame is the newest one
    page.locator("pre", has_text="node.Cluster").first.wait_for()
    frame = run(page, cookbook()["top-clusters"])
    first = top_clusters[0]["cluster_id"]
    frame.get_by_text(f'"{first}"').wait_for()
    shot = save(page, tmp_path, "neo4j-browser.png")

    table = frame.get_by_test_id("frameContents").inner_text()
    shown = re.findall(r'"(c_[0-9a-f]+)"', table)
    assert shown == [c["cluster_id"] for c in top_clusters]
    assert str(top_clusters[0]["risk"]) in table
    assert "records" in frame.inner_text()  # "Started streaming 10 records after ..."
    assert shot.stat().st_size > 10_000
    # nothing left the machine: what the Browser still tries to reach is refused by
    # the page's Content-Security-Policy; a new host here is a new kind of outbound call
    lines = [f"aborted {url}" for url in sorted(page.blocked)]
    lines += [f"refused by CSP {url}" for url in sorted(set(page.refused))]
    (OUTPUT / "neo4j-browser-blocked.txt").write_text("\n".join(lines) + "\n")
    assert not page.blocked
    assert not outside_hosts(page.refused), page.refused


def test_browser_applies_the_style_on_connect(
    page: Any,
    neo4j_server: srv.ServerStatus,
    top_clusters: list[dict[str, Any]],
    tmp_path: Path,
) -> None:
    connect(page, neo4j_server)
    # post_connect_cmd ran `:style <url>`: its frame shows the served file
    page.locator("pre", has_text="node.Cluster").first.wait_for()
    cluster = top_clusters[0]
    run(page, f":param cluster_id => '{cluster['cluster_id']}'")
    graph = run(page, cookbook()["cluster-graph"])
    drawn = graph.locator(f'g.node:has(circle.b-outline[fill="{CLUSTER_COLOUR}"])')
    drawn.first.wait_for()
    save(page, tmp_path, "neo4j-browser-graph.png")
    assert drawn.count() == 1
    assert node_captions(graph, CLUSTER_COLOUR) == [
        f"risk {cluster['risk']:g}, {cluster['size']} accounts"  # as JavaScript prints it
    ]
    accounts = node_captions(graph, ACCOUNT_COLOUR)
    assert len(accounts) >= 2
    assert all(re.fullmatch(r"…[0-9a-f]{6}", caption) for caption in accounts), accounts
