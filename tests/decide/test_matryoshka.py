"""Matryoshka: truncating stored vectors, the quality-vs-bytes curve, and a truncation pinned as a model."""

from __future__ import annotations

import numpy as np
import pytest

from workbench.decide.matryoshka import matryoshka_figure, matryoshka_sweep
from workbench.demo import DEMO_TABLE, NEW_MODEL
from workbench.embedding.run import embed
from workbench.errors import DimensionMismatchError, InvalidArgumentError, MixedIndexError, UnpinnedModelError
from workbench.models.catalog import CATALOG
from workbench.models.embedder import require_own_model
from workbench.models.loading import load_embedder
from workbench.models.ref import ModelRef
from workbench.models.sources.local import SentenceTransformerEmbedder
from workbench.models.truncate import truncate_rows, truncated_pin
from workbench.retrieval.exact import read_vectors
from workbench.store.workspace import Workspace


def test_truncate_rows_keeps_the_prefix_at_unit_length() -> None:
    vectors = np.random.default_rng(0).normal(size=(5, 8)).astype(np.float32)
    cut = truncate_rows(vectors, 3)
    assert cut.shape == (5, 3)
    np.testing.assert_allclose(np.linalg.norm(cut, axis=1), 1.0, rtol=1e-6)
    np.testing.assert_allclose(
        cut * np.linalg.norm(vectors[:, :3], axis=1, keepdims=True), vectors[:, :3], rtol=1e-5
    )


def test_sweep_curve_has_full_dim_last_and_intervals(demo_ws: Workspace, embedders: dict) -> None:
    version = demo_ws.table(DEMO_TABLE).version
    curve = matryoshka_sweep(demo_ws, column=NEW_MODEL, eval_set="demo", dims=[128, 32], embedders=embedders)
    points = curve.points
    assert points["dim"].tolist() == [32, 128, 384]
    assert points["bytes_per_vector"].tolist() == [128, 512, 1536]
    full = points.iloc[-1]
    assert full["retained"] == 1.0 and full["ndcg@10_delta"] == 0.0
    assert (points["ndcg@10_ci_low"] <= points["ndcg@10"]).all() and (
        points["ndcg@10"] <= points["ndcg@10_ci_high"]
    ).all()
    # MiniLM was not trained with a Matryoshka loss: 32 of 384 dimensions lose quality.
    assert points.iloc[0]["ndcg@10"] < full["ndcg@10"]
    np.testing.assert_allclose(points["ndcg@10_delta"], points["ndcg@10"] - full["ndcg@10"], atol=1e-12)
    figure = matryoshka_figure(curve)
    assert list(figure.data[0].x) == [128, 512, 1536]
    assert list(figure.layout.xaxis.tickvals) == [128, 512, 1536]  # ticks at the swept dims only
    assert [t.split("<br>")[1] for t in figure.layout.xaxis.ticktext] == ["d=32", "d=128", "d=384"]
    assert demo_ws.table(DEMO_TABLE).version == version  # nothing written


@pytest.mark.parametrize(
    ("dims", "match"), [([512], "only 384"), ([0], "positive integer"), ([-4, 64], "positive")]
)
def test_bad_dimensions_are_refused(demo_ws: Workspace, embedders: dict, dims: list[int], match: str) -> None:
    with pytest.raises(InvalidArgumentError, match=match):
        matryoshka_sweep(demo_ws, column=NEW_MODEL, eval_set="demo", dims=dims, embedders=embedders)


def test_truncation_is_part_of_the_pin_and_column() -> None:
    full = CATALOG[NEW_MODEL]
    pinned = truncated_pin(full, 128)
    assert pinned.column == f"vec__all_minilm_l6_v2_d128__{full.fingerprint[:8]}" != full.column
    assert pinned.dim == pinned.truncate_dim == 128 and pinned.fingerprint == full.fingerprint
    with pytest.raises(InvalidArgumentError, match="only 384"):
        truncated_pin(full, 500)
    with pytest.raises(InvalidArgumentError, match="full dimension"):
        truncated_pin(full, 384)
    with pytest.raises(InvalidArgumentError, match="already truncated"):
        truncated_pin(pinned, 64)
    with pytest.raises(UnpinnedModelError, match="truncate_dim = 64 but dim = 384"):
        ModelRef(**{**full.model_dump(), "truncate_dim": 64})


def test_full_model_cannot_write_or_query_the_truncated_column(
    new_embedder: SentenceTransformerEmbedder,
) -> None:
    with pytest.raises(MixedIndexError, match="its own model only"):
        require_own_model(new_embedder, truncated_pin(CATALOG[NEW_MODEL], 64), column="c")


def test_truncation_above_the_model_is_refused_at_load() -> None:
    over = ModelRef(**{**CATALOG[NEW_MODEL].model_dump(), "truncate_dim": 512, "dim": 512})
    with pytest.raises(DimensionMismatchError, match="above its 384 dimensions"):
        load_embedder(over)


@pytest.mark.slow
def test_pinned_truncation_embeds_the_swept_vectors(
    demo_ws: Workspace, new_embedder: SentenceTransformerEmbedder
) -> None:
    pinned = truncated_pin(CATALOG[NEW_MODEL], 64)
    result = embed(
        demo_ws, DEMO_TABLE, pinned, embedder=SentenceTransformerEmbedder(pinned, new_embedder.model)
    )
    table = demo_ws.table(DEMO_TABLE)
    ids_t, truncated = read_vectors(table, result.column)
    ids_f, full = read_vectors(table, CATALOG[NEW_MODEL].column)
    assert (ids_t == ids_f).all()
    np.testing.assert_allclose(truncated, truncate_rows(full, 64), atol=1e-5)
