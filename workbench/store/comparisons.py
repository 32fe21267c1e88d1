"""The stored result of a comparison: ``Comparison``, its ``Manifest``, and their storage.

A comparison is one row of the workspace table ``wb_comparisons``: the manifest as JSON, the
frames as Parquet bytes (which keep every dtype, so a loaded comparison equals the one that
was stored), and a few headline columns so that listing never decodes the frames.
"""

from __future__ import annotations

import io
import json
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, NamedTuple

import pandas as pd
import pyarrow as pa

from workbench.contract import COMPARISON_FRAMES, COMPARISONS_TABLE, comparisons_schema
from workbench.errors import InvalidArgumentError, NotFoundError
from workbench.metrics.paired import TIE_TOLERANCE
from workbench.metrics.segments import segments_from_records
from workbench.metrics.shifts import moved_documents, score_histogram, separation_auc
from workbench.store.records import append_records, read_records

if TYPE_CHECKING:
    from workbench.store.workspace import Workspace

__all__ = [
    "DELTA_COLUMNS",
    "DRILLDOWN_COLUMNS",
    "KS",
    "LIST_COLUMNS",
    "SIDES",
    "Comparison",
    "Manifest",
    "count_comparisons",
    "drilldown_frame",
    "list_comparisons",
    "load_comparison",
    "save_comparison",
]

SIDES = ("baseline", "candidate")
DELTA_COLUMNS = [
    "baseline",
    "candidate",
    "delta",
    "ci_low",
    "ci_high",
    "p_ttest",
    "p_permutation",
    "wins",
    "ties",
    "losses",
    "n",
    "mde",
]
DRILLDOWN_COLUMNS = [
    "doc_id",
    "title",
    "grade",
    "status",
    "baseline_rank",
    "baseline_score",
    "candidate_rank",
    "candidate_score",
    "delta_rank",
]
LIST_COLUMNS = [
    "id",
    "created_at",
    "table",
    "baseline",
    "candidate",
    "eval_set",
    "headline_metric",
    "delta",
    "ci_low",
    "ci_high",
    "p_value",
    "n_judged",
    "n_queries",
    "summary",
]


@dataclass(frozen=True)
class Manifest:
    """Everything needed to reproduce a comparison's numbers.

    ``baseline_label``/``candidate_label`` are what the user asked for (an alias or a column);
    ``depth`` is how many documents were retrieved per query and side; ``shift_k`` the depth
    of RBO, Kendall τ, entered/left and the score distributions; ``timings`` are seconds.
    ``index`` holds, per side whose column has an ANN index, the index evidence
    (:class:`workbench.comparison.index_eval.IndexEvidence` as a dict: recall@k vs exact,
    metrics through the index, latencies); empty when neither column is indexed.
    ``segments`` holds one record per (key, segment, metric) with the paired statistics
    (:data:`workbench.metrics.segments.SEGMENT_COLUMNS`; NaN stored as null), read as a frame
    through :attr:`Comparison.segments`; ``segment_source`` says where the segments came from
    (``metadata``, ``automatic``, or ``""`` for a comparison without segments).
    """

    table: str
    table_version: int
    corpus_digest: str
    baseline_column: str
    candidate_column: str
    baseline_pin: dict[str, Any]
    candidate_pin: dict[str, Any]
    eval_set: str
    eval_set_hash: str
    k_values: list[int]
    metrics: list[str]
    n_queries: int
    n_judged: int
    n_unjudged: int
    created_at: str
    library_versions: dict[str, str]
    warnings: list[str] = field(default_factory=list)
    baseline_label: str = ""
    candidate_label: str = ""
    headline_metric: str | None = None
    depth: int = 0
    shift_k: int = 0
    timings: dict[str, float] = field(default_factory=dict)
    index: dict[str, dict[str, Any]] = field(default_factory=dict)
    segments: list[dict[str, Any]] = field(default_factory=list)
    segment_source: str = ""

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True, ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str) -> Manifest:
        return cls(**json.loads(text))


class KS(NamedTuple):
    """Two-sample Kolmogorov-Smirnov distance between the two models' top-k scores."""

    statistic: float
    p: float


@dataclass(frozen=True, eq=False)
class Comparison:
    """A baseline column against a candidate column on one eval set.

    Attributes:
        id: Short, sortable id (``cmp-20261121-234501-ab12``).
        manifest: What was compared, on which data, with which pins and libraries.
        summary: The one sentence to act on.
        deltas: Indexed by metric (``ndcg@10``): baseline, candidate, delta, ci_low, ci_high,
            p_ttest, p_permutation, wins, ties, losses, n, mde. Empty without judged queries.
        per_query: One row per query: query_id, query, judged, ``<metric>_baseline``,
            ``<metric>_candidate``, ``<metric>_delta`` (NaN when unjudged), ``overlap@k`` and
            ``jaccard@k`` per k, rbo, kendall_tau, n_entered, n_left (at ``shift_k``).
        rankings: query_id, side, rank, doc_id, score (cosine), grade (``<NA>`` when the
            query is unjudged, 0 for an unjudged document of a judged query), judged (the
            qrels hold a judgement of any grade for this document; absent in comparisons
            stored before it was recorded).
        documents: doc_id, title, snippet of every retrieved document (for display).
        thresholds: Old cut-off → new cut-off keeping the same share of top-k results.
        ks: KS statistic and p-value between the two score distributions.
    """

    id: str
    manifest: Manifest
    summary: str
    deltas: pd.DataFrame
    per_query: pd.DataFrame
    rankings: pd.DataFrame
    documents: pd.DataFrame
    thresholds: pd.DataFrame
    ks: KS

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Comparison):
            return NotImplemented
        same = (self.id, self.manifest, self.summary, tuple(self.ks)) == (
            other.id,
            other.manifest,
            other.summary,
            tuple(other.ks),
        )
        return same and all(getattr(self, f).equals(getattr(other, f)) for f in COMPARISON_FRAMES)

    __hash__ = None  # type: ignore[assignment]  # holds DataFrames

    @property
    def segments(self) -> pd.DataFrame:
        """Every metric per segment, both sides, the delta's interval and Holm-adjusted p.

        Columns :data:`workbench.metrics.segments.SEGMENT_COLUMNS`; empty for a comparison
        stored before segments were recorded or made with none.
        """
        return segments_from_records(self.manifest.segments)

    @property
    def scores(self) -> pd.DataFrame:
        """Top-``shift_k`` scores per side: query_id, side, rank, score, relevant (NA if unjudged)."""
        top = self.rankings[self.rankings["rank"] <= self.manifest.shift_k]
        relevant = (top["grade"] > 0).astype("boolean")
        return top[["query_id", "side", "rank", "score"]].assign(relevant=relevant).reset_index(drop=True)

    def histograms(self, *, bins: int = 40) -> pd.DataFrame:
        """Score histograms as data: side, label (all / relevant / non-relevant), bins, density."""
        scores = self.scores
        if scores.empty:
            return pd.DataFrame(columns=["side", "label", "bin_left", "bin_right", "count", "density"])
        bounds = (float(scores["score"].min()), float(scores["score"].max()) + 1e-9)
        parts = []
        for side, group in scores.groupby("side", sort=False):
            labelled = group["relevant"].fillna(False)
            for label, mask in _label_masks(group["relevant"], labelled):
                if mask.any():
                    hist = score_histogram(group.loc[mask, "score"], bins=bins, range=bounds)
                    parts.append(hist.assign(side=side, label=label))
        frame = pd.concat(parts, ignore_index=True)
        return frame[["side", "label", "bin_left", "bin_right", "count", "density"]]

    def separation(self) -> pd.DataFrame:
        """Per side: ROC AUC of its top-k scores, relevant vs judged-or-unjudged other results.

        Columns: side, auc, n_relevant, n_other (judged queries only; NaN AUC without labels).
        """
        scores = self.scores.dropna(subset=["relevant"])
        rows = []
        for side in SIDES:
            mine = scores[scores["side"] == side]
            relevant = mine["relevant"].astype(bool)
            rel, other = mine.loc[relevant, "score"], mine.loc[~relevant, "score"]
            rows.append(
                {
                    "side": side,
                    "auc": separation_auc(rel, other),
                    "n_relevant": len(rel),
                    "n_other": len(other),
                }
            )
        return pd.DataFrame(rows, columns=["side", "auc", "n_relevant", "n_other"])

    def query_text(self, query_id: str) -> str:
        rows = self.per_query.loc[self.per_query["query_id"] == query_id, "query"]
        if rows.empty:
            sample = ", ".join(self.per_query["query_id"].head(5))
            raise NotFoundError(f"query {query_id!r} is not in comparison {self.id}; e.g. {sample}")
        return str(rows.iloc[0])

    def drilldown(self, query_id: str, *, k: int | None = None) -> pd.DataFrame:
        """Both top-k lists of one query, one row per document, candidate order first.

        Columns: doc_id, title, grade, status (kept / entered / left), baseline_rank,
        baseline_score, candidate_rank, candidate_score, delta_rank (positive = moved up).
        """
        self.query_text(query_id)
        mine = self.rankings[self.rankings["query_id"] == query_id]
        return drilldown_frame(
            mine[mine["side"] == "baseline"],
            mine[mine["side"] == "candidate"],
            k=k or self.manifest.shift_k,
            titles=self.documents.set_index("doc_id")["title"],
            grades=mine.drop_duplicates("doc_id").set_index("doc_id")["grade"],
        )

    def judged(self) -> pd.DataFrame:
        """Mean judged@k per side and k (queries with judgements only): k, baseline, candidate, gap.

        Empty for a comparison stored before judged@k was recorded.
        """
        rows = []
        for k in self.manifest.k_values:
            cols = [f"judged@{k}_{side}" for side in SIDES]
            if not all(c in self.per_query.columns for c in cols):
                continue
            base, cand = (float(self.per_query[c].mean()) for c in cols)  # pandas skips NaN
            rows.append({"k": k, "baseline": base, "candidate": cand, "gap": cand - base})
        return pd.DataFrame(rows, columns=["k", "baseline", "candidate", "gap"])

    def unjudged(self, query_id: str | None = None, *, k: int | None = None) -> pd.DataFrame:
        """Documents in either side's top ``k`` that the eval set has no judgement for.

        The pool to judge, one row per (query, document): query_id, doc_id, title,
        baseline_rank, candidate_rank (``<NA>`` when outside that side's ranking), best_rank.
        Only queries of ``query_id`` if given; ``k`` defaults to ``shift_k``.

        Raises:
            NotFoundError: ``query_id`` is not in this comparison.
        """
        if query_id is not None:
            self.query_text(query_id)
        k = k or self.manifest.shift_k
        columns = ["query_id", "doc_id", "title", "baseline_rank", "candidate_rank", "best_rank"]
        r = self.rankings
        if "judged" not in r.columns:
            return pd.DataFrame(columns=columns)
        mine = r if query_id is None else r[r["query_id"] == query_id]
        top = mine[(mine["rank"] <= k) & ~mine["judged"].astype(bool)]
        ranks = mine.pivot_table(index=["query_id", "doc_id"], columns="side", values="rank", aggfunc="min")
        pool = top[["query_id", "doc_id"]].drop_duplicates().set_index(["query_id", "doc_id"])
        pool = pool.join(ranks.reindex(columns=list(SIDES))).reset_index()
        pool = pool.rename(columns={f"{side}": f"{side}_rank" for side in SIDES})
        pool[["baseline_rank", "candidate_rank"]] = pool[["baseline_rank", "candidate_rank"]].astype("Int64")
        pool["best_rank"] = pool[["baseline_rank", "candidate_rank"]].min(axis=1).astype("Int64")
        pool["title"] = pool["doc_id"].map(self.documents.set_index("doc_id")["title"])
        return pool.sort_values(["query_id", "best_rank", "doc_id"])[columns].reset_index(drop=True)

    def worst_regressions(self, n: int = 10, metric: str | None = None) -> pd.DataFrame:
        """The queries that lost most, worst first.

        Args:
            n: How many queries.
            metric: A labelled metric of this comparison (default: the headline, e.g.
                ``ndcg@10``; only queries whose delta is negative are listed) or a label-free
                column (``rbo``, ``overlap@10``, ``jaccard@10``, ``kendall_tau``; lowest first).
        """
        metric = metric or self.manifest.headline_metric or "rbo"
        shift = [c for c in self.per_query.columns if c.split("@")[0] in _SHIFT_NAMES]
        context = ["query_id", "query", f"overlap@{self.manifest.shift_k}", "rbo"]
        if metric in self.manifest.metrics:
            cols = [f"{metric}_{s}" for s in (*SIDES, "delta")]
            rows = self.per_query[self.per_query[cols[2]] < -TIE_TOLERANCE]
            rows = rows.sort_values([cols[2], "query_id"])
        elif metric in shift:
            cols = [metric] if metric not in context else []
            rows = self.per_query.sort_values([metric, "query_id"], na_position="last")
        else:
            allowed = ", ".join([*self.manifest.metrics, *shift])
            raise InvalidArgumentError(
                f"unknown metric {metric!r} for comparison {self.id}; allowed: {allowed}"
            )
        return rows.head(max(n, 0))[[*context, *cols]].reset_index(drop=True)


_SHIFT_NAMES = frozenset({"overlap", "jaccard", "rbo", "kendall_tau"})


def drilldown_frame(
    baseline: pd.DataFrame,
    candidate: pd.DataFrame,
    *,
    k: int,
    titles: pd.Series,
    grades: pd.Series | None = None,
) -> pd.DataFrame:
    """Two rankings of one query side by side: the frame of :meth:`Comparison.drilldown`.

    Args:
        baseline: The baseline's ranking (``doc_id``, ``score``), best first.
        candidate: The candidate's ranking, the same way.
        k: Depth of the top lists; ranks count in the whole rankings, so a document that
            left the top k still shows where it went.
        titles: Title by doc id.
        grades: Relevance grade by doc id (all ``<NA>`` when None: nothing is judged).
    """
    moved = moved_documents(baseline["doc_id"].tolist(), candidate["doc_id"].tolist(), k=k)
    frame = moved.rename(
        columns={"old_rank": "baseline_rank", "new_rank": "candidate_rank", "delta": "delta_rank"}
    )
    for side, ranking in zip(SIDES, (baseline, candidate), strict=True):
        frame[f"{side}_score"] = frame["doc_id"].map(ranking.set_index("doc_id")["score"])
    grade = frame["doc_id"].map(grades) if grades is not None else pd.Series(pd.NA, index=frame.index)
    frame = frame.assign(title=frame["doc_id"].map(titles), grade=grade.astype("Int64"))
    return frame[DRILLDOWN_COLUMNS]


def _label_masks(relevant: pd.Series, labelled: pd.Series) -> list[tuple[str, pd.Series]]:
    masks = [("all", pd.Series(True, index=relevant.index))]
    if relevant.notna().any():
        masks += [("relevant", labelled), ("non-relevant", relevant.notna() & ~labelled)]
    return masks


# --- storage -------------------------------------------------------------------------------


def save_comparison(ws: Workspace, comparison: Comparison) -> None:
    """Append one comparison to ``wb_comparisons`` (one LanceDB version)."""
    row = pa.Table.from_pylist([_row(comparison)], schema=comparisons_schema())
    append_records(ws, COMPARISONS_TABLE, row)


def load_comparison(ws: Workspace, comparison_id: str) -> Comparison:
    """A stored comparison by id, equal to the one :func:`~workbench.comparison.run.compare` returned."""
    rows = _select(ws, comparison_id)
    if not rows:
        known = list_comparisons(ws)["id"].tail(5).tolist()
        raise NotFoundError(
            f"no comparison {comparison_id!r} in workspace {ws.uri!r}; recent: "
            f"{', '.join(known) or 'none yet — run `workbench compare`'}"
        )
    row = rows[0]
    return Comparison(
        id=row["id"],
        manifest=Manifest.from_json(row["manifest_json"]),
        summary=row["summary"],
        ks=KS(*json.loads(row["ks_json"])),
        **{name: _from_parquet(row[f"{name}_parquet"]) for name in COMPARISON_FRAMES},
    )


def list_comparisons(ws: Workspace, *, table: str | None = None) -> pd.DataFrame:
    """One row per stored comparison, oldest first, with its headline numbers.

    Args:
        ws: The workspace.
        table: Only the comparisons made on this corpus table.
    """
    rows = read_records(
        ws, COMPARISONS_TABLE, columns=LIST_COLUMNS, equals={"table": table} if table is not None else None
    )
    if rows is None:
        return pd.DataFrame(columns=LIST_COLUMNS)
    return rows.to_pandas().sort_values("id").reset_index(drop=True)


def count_comparisons(ws: Workspace) -> int:
    return ws.dataset(COMPARISONS_TABLE).count_rows() if ws.has_table(COMPARISONS_TABLE) else 0


def _select(ws: Workspace, comparison_id: str) -> list[dict[str, Any]]:
    rows = read_records(ws, COMPARISONS_TABLE, equals={"id": comparison_id})
    return rows.to_pylist() if rows is not None else []


def _row(comparison: Comparison) -> dict[str, Any]:
    manifest = comparison.manifest
    head = manifest.headline_metric
    stats = comparison.deltas.loc[head] if head in comparison.deltas.index else None
    return {
        "id": comparison.id,
        "created_at": manifest.created_at,
        "table": manifest.table,
        "baseline": manifest.baseline_label or manifest.baseline_column,
        "candidate": manifest.candidate_label or manifest.candidate_column,
        "eval_set": manifest.eval_set,
        "headline_metric": head,
        "delta": None if stats is None else float(stats["delta"]),
        "ci_low": None if stats is None else float(stats["ci_low"]),
        "ci_high": None if stats is None else float(stats["ci_high"]),
        "p_value": None if stats is None else float(stats["p_permutation"]),
        "n_judged": manifest.n_judged,
        "n_queries": manifest.n_queries,
        "summary": comparison.summary,
        "manifest_json": manifest.to_json(),
        "ks_json": json.dumps(list(comparison.ks)),
        **{f"{name}_parquet": _to_parquet(getattr(comparison, name)) for name in COMPARISON_FRAMES},
    }


def _to_parquet(frame: pd.DataFrame) -> bytes:
    buffer = io.BytesIO()
    frame.to_parquet(buffer, engine="pyarrow", index=True)
    return buffer.getvalue()


def _from_parquet(data: bytes) -> pd.DataFrame:
    return pd.read_parquet(io.BytesIO(data), engine="pyarrow")
