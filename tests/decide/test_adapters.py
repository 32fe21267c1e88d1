"""Drift-Adapters: fitted on both columns, stored with a fingerprint, evaluated, bound to both pins."""

from __future__ import annotations

import dataclasses

import numpy as np
import pyarrow as pa
import pytest

from tests.conftest import write_corpus
from workbench.contract import ADAPTERS_TABLE
from workbench.decide.adapters.artifact import fit_adapter, list_adapters, load_adapter, paired_vectors
from workbench.decide.adapters.binding import adapted_queries, bound_columns
from workbench.decide.adapters.evaluate import SETTINGS, evaluate_adapter
from workbench.decide.adapters.maps import fit_map
from workbench.demo import DEMO_TABLE, NEW_MODEL, OLD_MODEL
from workbench.embedding.ingest import ingest
from workbench.errors import (
    CorruptStateError,
    DataError,
    InvalidArgumentError,
    MixedIndexError,
    NotFoundError,
)
from workbench.models.catalog import CATALOG
from workbench.models.truncate import truncated_pin
from workbench.production.promote import promote
from workbench.production.serving import ProductionIndex, search
from workbench.retrieval.exact import exact_search, read_vectors
from workbench.store.workspace import Workspace

NEW, OLD = CATALOG[NEW_MODEL], CATALOG[OLD_MODEL]


@pytest.mark.parametrize("kind", ["procrustes", "affine", "mlp"])
def test_each_kind_maps_new_vectors_closer_to_old_ones(demo_ws: Workspace, kind: str) -> None:
    table = demo_ws.table(DEMO_TABLE)
    columns = {c.name: c for c in demo_ws.vector_columns(table)}
    _, x, y = paired_vectors(table, columns[NEW.column], columns[OLD.column])
    unmapped = float(np.mean(np.sum(x * y, axis=1)))  # the same text in two spaces: cosine ≈ 0.2
    adapter = fit_adapter(demo_ws, source=NEW_MODEL, target=OLD_MODEL, kind=kind, epochs=10)
    assert adapter.id.startswith(f"{kind}-") and adapter.version == 1
    assert adapter.n_train + adapter.n_heldout == len(x) and adapter.n_heldout > 0
    assert adapter.fit_cosine["heldout"] > unmapped + 0.2
    assert adapter.source_pin == NEW and adapter.target_pin == OLD


def test_procrustes_is_orthogonal_and_recovers_a_rotation() -> None:
    rng = np.random.default_rng(1)
    x = rng.normal(size=(500, 16))
    rotation, _ = np.linalg.qr(rng.normal(size=(16, 16)))
    fitted = fit_map(x, x @ rotation, kind="procrustes")
    np.testing.assert_allclose(fitted.params["R"] @ fitted.params["R"].T, np.eye(16), atol=1e-5)
    np.testing.assert_allclose(fitted.params["R"], rotation, atol=1e-5)
    with pytest.raises(InvalidArgumentError, match="rank must be between 1 and 16"):
        fit_map(x, x, kind="affine", rank=17)


def test_stored_versioned_and_fingerprint_checked(demo_ws: Workspace) -> None:
    first = fit_adapter(demo_ws, source=NEW_MODEL, target=OLD_MODEL, kind="affine", rank=16)
    again = fit_adapter(demo_ws, source=NEW_MODEL, target=OLD_MODEL, kind="affine", rank=16)
    assert again.id == first.id and again.version == 1 and len(list_adapters(demo_ws)) == 1
    other = fit_adapter(demo_ws, source=NEW_MODEL, target=OLD_MODEL, kind="affine", rank=32)
    assert other.id != first.id and other.version == 2
    loaded = load_adapter(demo_ws, first.id)
    assert loaded.fingerprint == first.fingerprint and loaded.source_pin == NEW
    probe = np.random.default_rng(0).normal(size=(3, 384)).astype(np.float32)
    np.testing.assert_allclose(loaded.map.apply(probe), first.map.apply(probe), atol=1e-6)
    # Tamper with the stored parameters: loading refuses.
    handle = demo_ws.db.open_table(ADAPTERS_TABLE)
    row = handle.search().where(f"id = '{first.id}'").limit(1).to_arrow().drop_columns(["params"])
    row = row.append_column(pa.field("params", pa.binary()), pa.array([_tampered(first)], pa.binary()))
    handle.merge_insert("id").when_matched_update_all().execute(row.select(handle.schema.names))
    with pytest.raises(CorruptStateError, match="does not match its fingerprint"):
        load_adapter(demo_ws, first.id)
    with pytest.raises(NotFoundError, match="no adapter 'nope'"):
        load_adapter(demo_ws, "nope")


def _tampered(adapter) -> bytes:
    import io

    buffer = io.BytesIO()
    np.savez(buffer, **{k: v + 0.01 for k, v in adapter.map.params.items()})
    return buffer.getvalue()


@pytest.mark.slow
def test_evaluation_reports_recovery_gap_and_agreement(demo_ws: Workspace, embedders: dict) -> None:
    adapter = fit_adapter(demo_ws, source=NEW_MODEL, target=OLD_MODEL, kind="procrustes")
    result = evaluate_adapter(demo_ws, adapter.id, eval_set="demo", embedders=embedders)
    rows = result.rows
    assert list(rows.index) == list(SETTINGS)
    for metric in ("ndcg@10", "recall@100"):
        assert result.recovery[metric] == pytest.approx(
            rows.loc["adapted→old", metric] / rows.loc["new→new", metric]
        )
        gain = rows.loc["new→new", metric] - rows.loc["old→old", metric]
        assert result.gap_closed[metric] == pytest.approx(
            (rows.loc["adapted→old", metric] - rows.loc["old→old", metric]) / gain
        )
    assert 0 <= result.agreement <= 1 and result.agreement_k == 10
    assert "recovery" in result.summary and adapter.kind in result.summary


@pytest.mark.slow
def test_identity_map_agrees_fully_with_the_reembed(demo_ws: Workspace, embedders: dict) -> None:
    """new→new through a Procrustes fit of a column onto itself: the bridge is the re-embed."""
    adapter = fit_adapter(demo_ws, source=NEW_MODEL, target=OLD_MODEL, kind="procrustes")
    identity = dataclasses.replace(
        adapter,
        target_column=NEW.column,
        target_pin=NEW,
        map=dataclasses.replace(adapter.map, params={"R": np.eye(384, dtype=np.float32)}),
    )
    result = evaluate_adapter(demo_ws, identity, eval_set="demo", embedders=embedders)
    assert result.agreement == pytest.approx(1.0)
    assert result.recovery["ndcg@10"] == pytest.approx(1.0)


QUERY = "how do I roll back a model"


def test_serving_through_an_adapter_is_a_mode_of_the_production_index(
    demo_ws: Workspace, embedders: dict
) -> None:
    adapter = fit_adapter(demo_ws, source=NEW_MODEL, target=OLD_MODEL, kind="procrustes")
    index = ProductionIndex.open(demo_ws, adapter=adapter.id, embedder=embedders[NEW.column])
    assert index.adapter is not None and index.column.name == OLD.column and index.embedder.ref == NEW
    result = index.search(QUERY, k=5)
    assert (result.table, result.column, len(result.hits)) == (DEMO_TABLE, OLD.column, 5)
    assert result.model == f"{NEW.pin} via adapter {adapter.id}" and result.index == index.searched_with
    # The production column's documents, ranked by the mapped new-model query (exact search here).
    ids, docs = read_vectors(index.table, OLD.column)
    mapped = adapted_queries(adapter, embedders[NEW.column], [QUERY])
    expected = exact_search(ids, docs, mapped, ["q"], k=5).sort_values("rank")["doc_id"].tolist()
    assert [hit.id for hit in result.hits] == expected
    assert search(demo_ws, QUERY, k=5, adapter=adapter.id, embedder=embedders[NEW.column]) == result
    assert index.follow() is index and f"via {adapter.id}" in repr(index)


def test_adapter_serving_refuses_changed_pins(demo_ws: Workspace, embedders: dict) -> None:
    adapter = fit_adapter(demo_ws, source=NEW_MODEL, target=OLD_MODEL, kind="procrustes")
    with pytest.raises(MixedIndexError, match="bound to both pins"):
        ProductionIndex.open(demo_ws, adapter=adapter.id, embedder=embedders[OLD.column])
    changed = dataclasses.replace(adapter, target_pin=truncated_pin(OLD, 64))
    with pytest.raises(MixedIndexError, match="fitted for target model"):
        bound_columns(demo_ws.table(DEMO_TABLE), changed)
    with pytest.raises(MixedIndexError, match="fitted for target model"):
        ProductionIndex.open(demo_ws, adapter=changed, embedder=embedders[NEW.column])
    reverse = fit_adapter(demo_ws, source=OLD_MODEL, target=NEW_MODEL, kind="procrustes")
    with pytest.raises(MixedIndexError, match=r"production v[0-9]+ of 'demo' serves"):
        ProductionIndex.open(demo_ws, adapter=reverse.id, embedder=embedders[OLD.column])
    with pytest.raises(MixedIndexError, match="fitted on table 'demo', not 'other'"):
        ProductionIndex.open(demo_ws, "other", adapter=adapter.id, embedder=embedders[NEW.column])


def test_adapter_serving_refuses_once_production_moves_to_another_column(
    compared_ws: Workspace, comparison_id: str, embedders: dict
) -> None:
    adapter = fit_adapter(compared_ws, source=NEW_MODEL, target=OLD_MODEL, kind="procrustes")
    index = ProductionIndex.open(compared_ws, adapter=adapter.id, embedder=embedders[NEW.column])
    first = index.search(QUERY, k=3)
    promote(compared_ws, DEMO_TABLE, NEW.column, comparison=comparison_id)
    assert index.search(QUERY, k=3) == first  # the open handle keeps its validated version
    message = rf"serves {NEW.column}, but adapter {adapter.id} maps into {OLD.column}"
    with pytest.raises(MixedIndexError, match=message):
        index.follow()
    with pytest.raises(MixedIndexError, match=message):
        ProductionIndex.open(compared_ws, adapter=adapter.id, embedder=embedders[NEW.column])


def test_bad_input_writes_nothing(demo_ws: Workspace, tmp_path) -> None:
    with pytest.raises(InvalidArgumentError, match="an adapter maps between two models"):
        fit_adapter(demo_ws, source=NEW_MODEL, target=NEW_MODEL)
    with pytest.raises(InvalidArgumentError, match="unknown adapter kind 'linear'"):
        fit_adapter(demo_ws, source=NEW_MODEL, target=OLD_MODEL, kind="linear")  # type: ignore[arg-type]
    ingest(demo_ws, write_corpus(tmp_path / "c.jsonl", {"x": ("", "another corpus entirely")}), table="other")
    with pytest.raises(DataError, match="corpora differ"):
        fit_adapter(demo_ws, source=NEW_MODEL, target=OLD_MODEL, table=DEMO_TABLE, target_table="other")
    table = demo_ws.table(DEMO_TABLE)
    some_id = table.to_lance().to_table(columns=["id"], limit=1).column("id")[0].as_py()
    table.update(where=f"id = '{some_id}'", values={OLD.src_column: "0" * 64})
    with pytest.raises(DataError, match="computed from different text for 1 documents"):
        fit_adapter(demo_ws, source=NEW_MODEL, target=OLD_MODEL, table=DEMO_TABLE)
    assert not demo_ws.has_table(ADAPTERS_TABLE)
