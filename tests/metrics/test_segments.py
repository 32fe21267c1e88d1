"""Per-segment paired statistics: each segment's numbers are paired_deltas on its queries, Holm across segments."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from workbench.metrics.multiple import holm
from workbench.metrics.paired import paired_deltas
from workbench.metrics.segments import (
    SEGMENT_COLUMNS,
    automatic_segments,
    segment_deltas,
    segments_from_records,
)


def _frames(n: int = 40, seed: int = 1) -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    ids = [f"q{i:02d}" for i in range(n)]
    base = pd.DataFrame({"ndcg@10": rng.random(n), "mrr@10": rng.random(n)}, index=ids)
    cand = base + rng.normal(0.05, 0.1, size=base.shape)
    cand.iloc[: n // 4] -= 0.4  # the first quarter (segment "de") much worse
    return base, cand


def test_each_segment_is_paired_deltas_on_its_queries_with_holm_across_segments() -> None:
    base, cand = _frames()
    language = pd.Series(["de"] * 10 + ["en"] * 20 + ["fr"] * 10, index=base.index)
    found = segment_deltas(base, cand, {"language": language})
    assert list(found.columns) == SEGMENT_COLUMNS
    assert found[["segment", "metric"]].values.tolist() == [
        [s, m] for s in ("de", "en", "fr") for m in ("ndcg@10", "mrr@10")
    ]
    for segment in ("de", "en", "fr"):
        ids = language.index[language == segment]
        expected = paired_deltas(base.loc[ids], cand.loc[ids])
        for metric, stats in expected.items():
            row = found[(found["segment"] == segment) & (found["metric"] == metric)].iloc[0]
            assert (row["n"], row["delta"], row["ci_low"], row["p_permutation"]) == pytest.approx(
                (stats.n, stats.delta, stats.ci_low, stats.p_permutation)
            )
    ndcg = found[found["metric"] == "ndcg@10"]
    np.testing.assert_allclose(ndcg["p_holm"], holm(ndcg["p_permutation"].to_numpy()))
    assert ndcg.iloc[0]["delta"] < -0.2 and ndcg.iloc[0]["p_holm"] < 0.05  # "de" is shown worse


def test_queries_outside_the_frames_or_without_a_segment_are_left_out() -> None:
    base, cand = _frames(n=12)
    topic = pd.Series({"q00": "a", "q01": "a", "q02": None, "zz": "a", "q03": "b"})
    found = segment_deltas(base, cand, {"topic": topic})
    assert found.groupby("segment")["n"].first().to_dict() == {"a": 2, "b": 1}
    assert segment_deltas(base, cand, {}).empty


def test_stored_records_read_back_as_the_same_frame() -> None:
    base, cand = _frames(n=12)
    found = segment_deltas(base, cand, {"k": pd.Series("x", index=base.index)})
    records = found.astype(object).where(found.notna(), None).to_dict(orient="records")
    pd.testing.assert_frame_equal(segments_from_records(records), found)


def test_automatic_segments_cut_length_and_baseline_score_into_labelled_terciles() -> None:
    queries = {f"q{i}": " ".join(["w"] * (i + 1)) for i in range(9)}
    scores = pd.Series({f"q{i}": i / 10 for i in range(9)})
    found = automatic_segments(queries, scores)
    assert found["length"].value_counts().to_dict() == {"1–3 words": 3, "4–6 words": 3, "7–9 words": 3}
    assert found["baseline_score"]["q0"] == "score 0.00–0.20"
    same = automatic_segments({"a": "x y", "b": "x y"}, pd.Series({"a": 0.5, "b": 0.5}))
    assert set(same["length"]) == {"2 words"}  # ties cannot be cut: one segment, not an error
