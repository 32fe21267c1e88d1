"""The migration plan: tokens, time, money and storage estimated before a run, checked after one."""

from __future__ import annotations

import pytest

from workbench.decide.plan import check_plan, count_tokens, plan_embed
from workbench.demo import DEMO_TABLE, NEW_MODEL, demo_data_dir
from workbench.embedding.ingest import ingest
from workbench.embedding.run import embed
from workbench.errors import InvalidArgumentError
from workbench.models.catalog import CATALOG
from workbench.models.sources.local import SentenceTransformerEmbedder
from workbench.store.workspace import Workspace

REF = CATALOG[NEW_MODEL]


@pytest.mark.slow
def test_plan_counts_tokens_with_the_model_tokenizer(
    demo_ws: Workspace, new_embedder: SentenceTransformerEmbedder
) -> None:
    table = demo_ws.table(DEMO_TABLE)
    version = table.version
    plan = plan_embed(demo_ws, DEMO_TABLE, REF, embedder=new_embedder, sample=16)
    rows = table.count_rows()
    assert plan.rows == rows and plan.sample_rows == 16 and plan.table_version == version
    tokenizer = new_embedder.model.tokenizer
    first = table.to_lance().to_table(columns=["title", "text"], limit=1).to_pylist()[0]
    text = f"{first['title']}\n{first['text']}" if first["title"] else first["text"]
    assert count_tokens(new_embedder, [text])[0] == len(tokenizer(text)["input_ids"])
    assert plan.tokens_untruncated >= plan.tokens > 2 * rows  # every document has [CLS], [SEP] and words
    assert plan.seconds > 0 and plan.rows_per_second > 0
    assert plan.vector_bytes == rows * (384 * 4 + 68) and plan.index_bytes == 0
    assert plan.cost is None and plan.price_per_million is None
    assert "cost unknown" in plan.message
    assert demo_ws.table(DEMO_TABLE).version == version  # a plan writes nothing


@pytest.mark.slow
def test_price_workers_and_index_scale_the_estimate(
    demo_ws: Workspace, new_embedder: SentenceTransformerEmbedder
) -> None:
    one = plan_embed(
        demo_ws, DEMO_TABLE, REF, embedder=new_embedder, sample=8, price_per_million=0.02, index="ivf_pq"
    )
    assert one.cost == pytest.approx(one.tokens * 0.02 / 1e6)
    assert (
        one.index_bytes == one.rows * (384 // 16 + 8)
        and one.storage_bytes == one.vector_bytes + one.index_bytes
    )
    four = plan_embed(demo_ws, DEMO_TABLE, REF, embedder=new_embedder, sample=8, workers=4)
    assert four.workers == 4 and four.tokens == one.tokens


@pytest.mark.slow
def test_estimate_is_checked_against_a_real_run(
    empty_ws: Workspace, new_embedder: SentenceTransformerEmbedder
) -> None:
    ingest(empty_ws, demo_data_dir(), table="t", eval_set="demo")
    plan = plan_embed(empty_ws, "t", REF, embedder=new_embedder, sample=32)
    result = embed(empty_ws, "t", REF, embedder=new_embedder)
    check = check_plan(plan, result)
    assert check.measured_seconds == result.seconds
    assert check.error == pytest.approx(plan.seconds / result.seconds - 1)
    assert ("within" in check.message) == check.within_tolerance
    again = embed(empty_ws, "t", REF, embedder=new_embedder)
    with pytest.raises(InvalidArgumentError, match="already existed, so nothing was measured"):
        check_plan(plan, again)


class _Counting:
    """The real model, counting the passes a plan makes over its documents."""

    def __init__(self, inner: SentenceTransformerEmbedder) -> None:
        self.inner, self.passes = inner, []

    def __getattr__(self, name: str) -> object:
        return getattr(self.inner, name)

    def encode_documents(self, texts, *, batch_size: int = 64):
        self.passes.append(len(texts))
        return self.inner.encode_documents(texts, batch_size=batch_size)


@pytest.mark.slow
def test_a_local_plan_times_the_better_of_two_passes(
    demo_ws: Workspace, new_embedder: SentenceTransformerEmbedder
) -> None:
    counting = _Counting(new_embedder)
    plan = plan_embed(demo_ws, DEMO_TABLE, REF, embedder=counting, sample=40)  # type: ignore[arg-type]
    # A warm-up batch, then the whole sample twice: one pass varied by ±30 % between plans.
    assert counting.passes == [32, 40, 40]
    assert plan.sample_rows == 40 and plan.sample_seconds > 0


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"sample": 0}, "sample must be at least 1"),
        ({"workers": 0}, "workers must be at least 1"),
        ({"price_per_million": -1.0}, "price per 1M tokens must be >= 0"),
        ({"index": "btree"}, "unknown index 'btree'"),
    ],
)
def test_bad_options_are_refused(
    demo_ws: Workspace, new_embedder: SentenceTransformerEmbedder, kwargs: dict, match: str
) -> None:
    with pytest.raises(InvalidArgumentError, match=match):
        plan_embed(demo_ws, DEMO_TABLE, REF, embedder=new_embedder, **kwargs)
