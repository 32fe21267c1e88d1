"""The report ends with the shadow's live evidence on the comparison's candidate, in every format."""

from __future__ import annotations

import json

from workbench.demo import NEW_MODEL, OLD_MODEL
from workbench.models.catalog import CATALOG
from workbench.production.report import comparison_report
from workbench.production.serving import Hit, SearchResult
from workbench.production.shadow import ShadowLog
from workbench.store.comparisons import load_comparison
from workbench.store.workspace import Workspace

OLD = CATALOG[OLD_MODEL].column
NEW = CATALOG[NEW_MODEL].column


def _answer(column: str, ids: list[str], query: str) -> SearchResult:
    hits = tuple(Hit(rank, doc, "", "", 0.9 - rank / 100) for rank, doc in enumerate(ids, start=1))
    return SearchResult(query, "demo", 3, column, "pin", hits)


def test_shadow_evidence_is_in_md_html_and_json(compared_ws: Workspace, comparison_id: str) -> None:
    cmp = load_comparison(compared_ws, comparison_id)
    assert "Live evidence" not in comparison_report(compared_ws, cmp, format="md")
    log = ShadowLog(compared_ws)
    for i in range(6):
        query = f"query {i}"
        log.record(_answer(OLD, ["a", "b", "c", "d"], query), _answer(NEW, ["a", "c", "x", "y"], query),
                   k=4, rollout=1, production_ms=2.0, candidate_ms=3.0)  # fmt: skip
    log.flush()
    md = comparison_report(compared_ws, cmp, format="md")
    html = comparison_report(compared_ws, cmp, format="html")
    data = json.loads(comparison_report(compared_ws, cmp, format="json"))
    assert "## Live evidence (shadow)" in md and "on 6 live queries" in md and "overlap@k" in md
    assert "<h2>Live evidence (shadow)</h2>" in html and html.rstrip().endswith("</html>")
    assert data["shadow"]["queries"] == 6 and data["shadow"]["agreement"]["overlap"]["mean"] == 0.5
    assert "gate" in data
