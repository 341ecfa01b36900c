"""The investigation guide the Browser opens on connect
(``graph_store/neo4j/browser/guide.html``), on the test run's own Neo4j instance.

- its queries are the cookbook's and the store's where they share a name, and every
  one runs on a linked world with the answers the store's tables give;
- node captions follow the API's masking rule (``api.masking``, the oracle);
- in real headless Chromium, with every non-loopback request aborted: the guide opens
  on connect and the style is applied (captions as designed), each guide query runs
  from its slide, a verdict is recorded, and the next ``sybil-linker link`` uses it.
  Screenshots go to ``test-output/guide-*.png`` (docs/img/ holds copies).
"""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from typer.testing import CliRunner

from api.masking import mask_identifier
from graph_store.neo4j import queries as q
from graph_store.neo4j import server as srv
from graph_store.neo4j.server import config
from graph_store.neo4j.server.web import ASSET_PACKAGE, GUIDE, assets
from graph_store.neo4j.store import Neo4jStore
from linker.cli import app as cli_app
from linker.pipeline import link
from tests.neo4j.test_browser import (  # noqa: F401  (fixtures)
    ACCOUNT_COLOUR,
    CLUSTER_COLOUR,
    OUTPUT,
    connect,
    mark_frames,
    new_frame,
    node_captions,
    outside_hosts,
    page,
    save,
    sync_playwright,
)
from tests.neo4j.test_cookbook import cookbook

pytestmark = [pytest.mark.neo4j, pytest.mark.xdist_group("neo4j")]

#: guide queries that are the same text as a query kept elsewhere
SAME_AS = {
    "cluster-graph": lambda: cookbook()["cluster-graph"],
    "changed-clusters": lambda: cookbook()["changed-clusters"],
    "close-to-fraud": lambda: cookbook()["close-to-fraud"],
    "record-cluster-verdict": lambda: q.RECORD_CLUSTER_VERDICT,
    "record-account-verdict": lambda: q.RECORD_ACCOUNT_VERDICT,
}
STEPS = [
    "flagged-clusters",
    "pick-cluster",
    "cluster-graph",
    "cluster-timeline",
    "shares-with-fraud",
    "set-min-proximity",
    "close-to-fraud",
    "cluster-changes",
    "set-min-risk-change",
    "changed-clusters",
    "set-verdict",
    "record-cluster-verdict",
    "set-account",
    "record-account-verdict",
    "verdicts",
]
ANALYST = "test.analyst"


class _Runnables(HTMLParser):
    """name -> text of every ``<pre class="runnable" data-query="name">``, and the
    number of the slide each is on (1-based)."""

    def __init__(self) -> None:
        super().__init__()
        self.queries: dict[str, str] = {}
        self.slide_of: dict[str, int] = {}
        self._slides = 0
        self._current: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "slide":
            self._slides += 1
        elif tag == "pre" and "runnable" in (found.get("class") or ""):
            self._current = str(found["data-query"])
            self.queries[self._current] = ""
            self.slide_of[self._current] = self._slides

    def handle_endtag(self, tag: str) -> None:
        if tag == "pre":
            self._current = None

    def handle_data(self, data: str) -> None:
        if self._current is not None:
            self.queries[self._current] += data


def guide() -> _Runnables:
    """The runnable blocks of the served guide."""
    parsed = _Runnables()
    parsed.feed(assets()[GUIDE].decode())
    return parsed


def _words(text: str) -> str:
    return " ".join(text.split())


def _param_value(text: str) -> str:
    """The expression of a ``:param name => expression`` block."""
    return text.split("=>", 1)[1].strip()


# --- the guide's text ---------------------------------------------------------------


def test_guide_has_its_steps_in_order() -> None:
    parsed = guide()
    assert list(parsed.queries) == STEPS
    slides = [parsed.slide_of[name] for name in STEPS]
    assert slides == sorted(slides) and slides[0] == 2  # slide 1 says what is where


@pytest.mark.parametrize("name", sorted(SAME_AS))
def test_guide_queries_are_the_same_as_their_sources(name: str) -> None:
    assert _words(guide().queries[name]) == _words(SAME_AS[name]())


def test_post_connect_commands_load_the_served_assets() -> None:
    cmd = config.post_connect_cmd(17474)
    assert "autoComplete: false" in cmd
    assert "style http://127.0.0.1:17474/browser/sybil-linker/style.grass" in cmd
    assert f"guide http://127.0.0.1:17474/browser/sybil-linker/{GUIDE}" in cmd
    assert ASSET_PACKAGE == "graph_store.neo4j.browser"


# --- on the test instance ------------------------------------------------------------


@pytest.fixture(autouse=True)
def no_verdicts(neo4j_driver: Any) -> None:
    """Each test starts without verdicts."""
    neo4j_driver.execute_query("MATCH (v:Verdict) DETACH DELETE v")


@pytest.fixture(scope="module")
def linked(small_world: Path, neo4j_store: Neo4jStore) -> Any:
    """The small world linked into the test instance; its published run."""
    return link(small_world, neo4j_store).run


def _query(driver: Any, text: str, **params: Any) -> list[dict[str, Any]]:
    records, _, _ = driver.execute_query(text, **params)
    return [r.data() for r in records]


def _top_flagged(run: Any) -> pd.DataFrame:
    flagged = run.clusters[run.clusters["flagged"]]
    return flagged.sort_values(["risk", "size", "cluster_id"], ascending=[False, False, True])


def test_captions_follow_the_api_masking(linked: Any, neo4j_driver: Any) -> None:
    rows = _query(
        neo4j_driver,
        "MATCH (n) WHERE n:PaymentInstrument OR n:IP OR n:Device OR n:Identifier "
        "RETURN n.kind AS kind, n.value AS value, n.caption AS caption",
    )
    assert rows
    for row in rows:
        assert row["caption"] == f"{row['kind']} {mask_identifier(row['kind'], row['value'])}"
    accounts = _query(neo4j_driver, "MATCH (a:Account) RETURN a.account_id AS id, a.caption AS c")
    assert all(r["c"] == "…" + r["id"][-6:] for r in accounts)
    templates = _query(
        neo4j_driver, "MATCH (t:PromptTemplate) RETURN t.value AS v, t.example AS e, t.caption AS c"
    )
    for row in templates:
        cut = q.EXAMPLE_CHARS
        shown = row["e"] if len(row["e"] or "") <= cut else row["e"][:cut] + "…"
        assert row["c"] == f"template {shown if row['e'] else row['v']}"


def test_guide_queries_answer_from_the_run(linked: Any, neo4j_driver: Any) -> None:
    texts = guide().queries
    top = _top_flagged(linked)
    assert len(top) >= 2, "the small world has flagged clusters"
    rows = _query(neo4j_driver, texts["flagged-clusters"])
    assert [r["cluster"] for r in rows] == list(top["cluster_id"].head(10))
    picked = _query(neo4j_driver, "RETURN " + _param_value(texts["pick-cluster"]) + " AS v")
    cluster = picked[0]["v"]
    assert cluster == top["cluster_id"].iloc[0]
    members = linked.accounts[linked.accounts["cluster_id"] == cluster]

    timeline = _query(neo4j_driver, texts["cluster-timeline"], cluster_id=cluster)
    assert sum(r["signups"] for r in timeline) == len(members)
    changes = _query(neo4j_driver, texts["cluster-changes"], cluster_id=cluster)
    assert changes[0]["size_now"] == len(members)
    verdict = {"label": "sybil", "author": ANALYST, "reason": "test"}

    # nothing confirmed yet; then the second cluster is confirmed fraud
    assert not _query(neo4j_driver, texts["shares-with-fraud"], cluster_id=cluster)
    # a run without labels has no proximity: the query answers nothing (and runs)
    min_proximity = _query(neo4j_driver, "RETURN " + _param_value(texts["set-min-proximity"]))
    assert list(min_proximity[0].values()) == [0.3]
    assert not _query(neo4j_driver, texts["close-to-fraud"], min_proximity=0.0)
    other = top["cluster_id"].iloc[1]
    recorded = _query(neo4j_driver, q.RECORD_CLUSTER_VERDICT, cluster_id=other, verdict=verdict)
    assert recorded == [
        {"result": "recorded", "target": other, "label": "sybil", "author": ANALYST}
    ]
    shares = _query(neo4j_driver, texts["shares-with-fraud"], cluster_id=cluster)
    want = _sharing_members(neo4j_driver, cluster, other)
    shown = {r["member"] for r in shares}
    assert want and shown <= want and len(shown) == min(len(want), 50)  # LIMIT 50
    listed = _query(neo4j_driver, texts["verdicts"])
    assert [(r["target"], r["author"]) for r in listed] == [(other, ANALYST)]


def _sharing_members(driver: Any, cluster: str, fraud_cluster: str) -> set[str]:
    """Members of ``cluster`` sharing an identifier with a member of ``fraud_cluster``,
    the plain way (two lists of identifiers per account)."""
    rows = _query(
        driver,
        "MATCH (p:RunPointer {name: 'latest'}) "
        "MATCH (a:Account)-[s:SCORED]->(:Run {run_id: p.run_id}) "
        "WHERE s.cluster_id IN [$c, $f] "
        "MATCH (a)-->(i) WHERE NOT i:Run AND NOT i:Cluster AND NOT i:Account "
        "RETURN a.account_id AS a, s.cluster_id AS c, collect(elementId(i)) AS ids",
        c=cluster,
        f=fraud_cluster,
    )
    fraud_ids = {i for r in rows if r["c"] == fraud_cluster for i in r["ids"]}
    return {r["a"] for r in rows if r["c"] == cluster and fraud_ids & set(r["ids"])}


def test_a_bad_verdict_is_not_recorded(linked: Any, neo4j_driver: Any) -> None:
    cluster = _top_flagged(linked)["cluster_id"].iloc[0]
    cases = [
        ({"cluster_id": "c_nope"}, {"label": "sybil", "author": "a"}, "no cluster c_nope"),
        ({"cluster_id": cluster}, {"label": "fraud", "author": "a"}, "label must be"),
        ({"cluster_id": cluster}, {"label": "sybil", "author": "  "}, "author is empty"),
    ]
    for params, verdict, problem in cases:
        rows = _query(neo4j_driver, q.RECORD_CLUSTER_VERDICT, verdict=verdict, **params)
        assert rows[0]["result"].startswith(problem)
    rows = _query(neo4j_driver, q.RECORD_ACCOUNT_VERDICT, account_id="acc_nope", verdict={})
    assert rows[0]["result"] == "no account acc_nope"
    assert _query(neo4j_driver, "MATCH (v:Verdict) RETURN count(v) AS n") == [{"n": 0}]


# --- in the Browser -----------------------------------------------------------------


def _goto_slide(tab: Any, number: int) -> None:
    tab.get_by_test_id(f"pagination-{number}").click()


def _run_step(tab: Any, name: str, replace: str | None = None) -> Any:
    """Click the guide's block ``name`` (it fills the editor), optionally replace the
    editor's text, run it; the result frame."""
    parsed = guide()
    _goto_slide(tab, parsed.slide_of[name])
    on_slide = [n for n in STEPS if parsed.slide_of[n] == parsed.slide_of[name]]
    block = tab.locator("#guide-drawer pre.runnable").nth(on_slide.index(name))
    mark_frames(tab)
    block.click()
    editor = tab.get_by_test_id("activeEditor")
    if replace is not None:
        editor.click()
        tab.keyboard.press("Control+a")
        tab.keyboard.insert_text(replace)
    else:  # the editor holds the block's query
        first_line = parsed.queries[name].strip().splitlines()[0]
        assert _words(first_line)[:30] in _words(editor.inner_text())
    tab.get_by_test_id("editor-Run").click()
    return new_frame(tab)


def _table(frame: Any, expect: str) -> str:
    """The text of ``frame``'s result, once it shows ``expect``."""
    contents = frame.get_by_test_id("frameContents")
    contents.get_by_text(expect).first.wait_for()
    return str(contents.inner_text())


def _full_screen_picture(tab: Any, frame: Any, tmp_path: Path, name: str) -> None:
    """A screenshot of a graph frame in full screen, its properties panel folded."""
    frame.hover()
    frame.locator("button[title='Fullscreen']").click(force=True)
    fold = frame.locator("button[title='Collapse the node properties display']")
    if fold.count():
        fold.click()
    for _ in range(2):  # readable captions
        frame.locator("button[aria-label='zoom-in']").click()
    tab.wait_for_timeout(1500)  # the layout settles
    save(tab, tmp_path, name)
    tab.locator("button[title='Close fullscreen']").click()


def test_browser_walks_the_guide_and_the_next_link_uses_the_verdict(
    page: Any,  # noqa: F811 (the fixture imported above)
    neo4j_server: srv.ServerStatus,
    linked: Any,
    small_world: Path,
    tmp_path: Path,
) -> None:
    connect(page, neo4j_server)
    drawer = page.locator("#guide-drawer")
    drawer.get_by_text("Sybil Linker: investigate a cluster").wait_for()
    save(page, tmp_path, "guide-1-connected.png")
    top = _top_flagged(linked)
    cluster = str(top["cluster_id"].iloc[0])

    table = _table(_run_step(page, "flagged-clusters"), cluster)
    assert re.findall(r'"(c_[0-9a-f]+)"', table) == list(top["cluster_id"].head(10))
    _table(_run_step(page, "pick-cluster"), cluster)
    save(page, tmp_path, "guide-2-flagged-clusters.png")

    star = _run_step(page, "cluster-graph")
    star.locator(f'g.node:has(circle.b-outline[fill="{CLUSTER_COLOUR}"])').first.wait_for()
    size = int(top["size"].iloc[0])
    risk = float(top["risk"].iloc[0])
    assert node_captions(star, CLUSTER_COLOUR) == [f"risk {risk:g}, {size} accounts"]
    accounts = node_captions(star, ACCOUNT_COLOUR)
    assert accounts and all(re.fullmatch(r"…[0-9a-f]{6}", c) for c in accounts), accounts
    identifiers = [c for colour in ("#F79767", "#C990C0") for c in node_captions(star, colour)]
    assert identifiers and all(re.match(r"(payment|device) \*\*\*\w{4}$", c) for c in identifiers)
    assert "LINKED" not in star.inner_text()  # "connect result nodes" is off
    _full_screen_picture(page, star, tmp_path, "guide-3-cluster-star.png")

    _table(_run_step(page, "cluster-timeline"), "signups")
    save(page, tmp_path, "guide-4-timeline.png")
    frame = _run_step(page, "shares-with-fraud")
    frame.get_by_text("no changes, no records").or_(frame.get_by_text("member")).first.wait_for()
    assert _table(_run_step(page, "cluster-changes"), "size_now")
    _table(_run_step(page, "set-min-risk-change"), "min_risk_change")
    _table(_run_step(page, "changed-clusters"), "change")
    save(page, tmp_path, "guide-5-changes.png")

    # the analyst decides the riskiest cluster is benign after all
    verdict = f":param verdict => ({{label: 'benign', author: '{ANALYST}', reason: 'an office'}})"
    _table(_run_step(page, "set-verdict", replace=verdict), "an office")
    recorded = _table(_run_step(page, "record-cluster-verdict"), "recorded")
    assert cluster in recorded and ANALYST in recorded
    account = str(
        linked.accounts.loc[linked.accounts["cluster_id"] == cluster, "account_id"].iloc[0]
    )
    _table(_run_step(page, "set-account", replace=f":param account_id => '{account}'"), account)
    sybil = f":param verdict => ({{label: 'sybil', author: '{ANALYST}', reason: 'its own card'}})"
    _table(_run_step(page, "set-verdict", replace=sybil), "its own card")
    assert account in _table(_run_step(page, "record-account-verdict"), "recorded")
    listed = _table(_run_step(page, "verdicts"), ANALYST)
    assert listed.index(account) < listed.index(cluster)  # newest first
    save(page, tmp_path, "guide-6-verdict.png")
    assert not page.blocked, page.blocked  # nothing left the machine
    assert not outside_hosts(page.refused), page.refused

    # the next link, as an analyst runs it, reads both verdicts from the graph
    out = tmp_path / "out"
    result = CliRunner().invoke(
        cli_app,
        ["link", str(small_world), "--out", str(out), "--store", neo4j_server.bolt_uri],
        env={"COLUMNS": "200"},  # the instance's password is in the environment
    )
    assert result.exit_code == 0, result.output
    assert "analyst verdicts used: 2 of 2 (graph 2)" in result.output
    meta = json.loads((out / "run.json").read_text())
    assert meta["analyst_verdicts"] == {"read": {"graph": 2}, "used": {"graph": 2}}
    clusters = pd.read_parquet(out / "clusters.parquet").set_index("cluster_id")
    assert not clusters.loc[cluster, "flagged"]
    assert clusters.loc[cluster, "reasons"][0] == f"analyst verdict: benign ({ANALYST}: an office)"
    accounts_out = pd.read_parquet(out / "accounts.parquet").set_index("account_id")
    assert accounts_out.loc[account, "flagged"]  # the account's verdict wins over its cluster's
    assert (
        not accounts_out.loc[accounts_out["cluster_id"] == cluster, "flagged"].drop(account).any()
    )
    (OUTPUT / "guide-link.txt").write_text(result.output)
