"""Judging what the new model surfaces: the unjudged pool, new judgements, a re-run.

Qrels pooled from the old system leave holes exactly where a new model differs. The loop:
list the unjudged documents of a comparison's top lists (:meth:`Comparison.unjudged`), label
them — in the app's drill-down, or elsewhere from a TREC-style file
(:func:`write_pool`/:func:`read_labels`) — add the labels as a new version of the eval set
(:func:`add_judgements`; the old version stays loadable by the hash the comparison recorded),
and re-run the same comparison on it (:func:`rerun_comparison`).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
import pyarrow.compute as pc

from workbench.corpus.parsing import control_character
from workbench.corpus.readers import Qrels, read_qrels
from workbench.errors import DataError, InvalidArgumentError, WorkbenchError
from workbench.store.evalsets import EvalSet, load_eval_set, save_eval_set

if TYPE_CHECKING:
    from workbench.store.comparisons import Comparison
    from workbench.store.workspace import Workspace

__all__ = [
    "UNLABELLED",
    "JudgementResult",
    "add_judgements",
    "read_labels",
    "rerun_comparison",
    "write_pool",
]

log = logging.getLogger(__name__)

UNLABELLED = -1
"""The grade :func:`write_pool` writes: replace it with a grade (0, 1, 2, …) to label a line."""


@dataclass(frozen=True)
class JudgementResult:
    """What :func:`add_judgements` recorded."""

    eval_set: EvalSet
    added: int
    changed: int
    queries: int

    @property
    def message(self) -> str:
        if not (self.added or self.changed):
            return f"eval set {self.eval_set.name!r}: no new judgements (still v{self.eval_set.version})"
        return (
            f"eval set {self.eval_set.name!r} v{self.eval_set.version}: {self.added} new and "
            f"{self.changed} changed judgement(s) on {self.queries} quer{'y' if self.queries == 1 else 'ies'}"
        )


def add_judgements(
    ws: Workspace, eval_set: str, labels: Mapping[str, Mapping[str, int]], *, author: str, note: str = ""
) -> JudgementResult:
    """Add graded judgements to an eval set as its next version (who and when are recorded).

    Validated first, written once: every query must be in the eval set, every document in its
    table, every grade an integer >= 0. Labels equal to the existing ones change nothing (no
    new version).

    Args:
        ws: The workspace.
        eval_set: The eval set's name (``NAME@VERSION`` only for its latest version).
        labels: ``{query_id: {doc_id: grade}}``.
        author: Who judged (required: the history says who).
        note: Why, e.g. "judged the candidate's unjudged top 10".

    Raises:
        InvalidArgumentError: no author, no labels, or a grade that is not an integer >= 0.
        DataError: an unknown query or document id.
    """
    if not author.strip():
        raise InvalidArgumentError("judgements need an author (who judged): give --author or a name")
    current = load_eval_set(ws, eval_set)
    latest = load_eval_set(ws, current.name) if "@" in eval_set else current
    if latest.content_hash != current.content_hash:  # never drop the labels of newer versions
        raise InvalidArgumentError(
            f"{eval_set!r} is not the latest version of eval set {current.name!r} (v{latest.version}); "
            f"judgements are added to the latest: import onto {current.name} "
            f"(or {current.name}@{latest.version})"
        )
    clean = _check_labels(current, labels)
    _check_documents(ws, current, {d for judged in clean.values() for d in judged})
    qrels = {q: dict(j) for q, j in current.qrels.items()}
    added = changed = 0
    for qid, judged in clean.items():
        for doc, grade in judged.items():
            before = qrels.get(qid, {}).get(doc)
            if before == grade:
                continue
            added, changed = (added + 1, changed) if before is None else (added, changed + 1)
            qrels.setdefault(qid, {})[doc] = grade
    if not (added or changed):
        return JudgementResult(current, 0, 0, 0)
    touched = sum(
        1 for q, j in clean.items() if any(current.qrels.get(q, {}).get(d) != g for d, g in j.items())
    )
    saved = save_eval_set(
        ws,
        EvalSet(current.name, current.table, current.queries, qrels, metadata=current.metadata),
        author=author.strip(),
        note=note,
    )
    log.info("eval set %s v%d: +%d judgements by %s", saved.name, saved.version, added, author)
    return JudgementResult(saved, added, changed, touched)


def _check_labels(es: EvalSet, labels: Mapping[str, Mapping[str, int]]) -> dict[str, dict[str, int]]:
    if not labels or not any(labels.values()):
        raise InvalidArgumentError("no labels given: nothing to add")
    unknown = sorted(q for q in labels if q not in es.queries)
    if unknown:
        raise DataError(
            f"{len(unknown)} quer{'y' if len(unknown) == 1 else 'ies'} not in eval set {es.name!r}, e.g. "
            f"{', '.join(map(repr, unknown[:5]))}"
        )
    clean: dict[str, dict[str, int]] = {}
    for qid, judged in labels.items():
        for doc, grade in judged.items():
            if isinstance(grade, bool) or not isinstance(grade, int) or grade < 0:
                raise InvalidArgumentError(
                    f"grade {grade!r} for query {qid!r}, document {doc!r}: grades are integers >= 0 "
                    "(0 = not relevant, 1 = relevant, 2 = highly relevant)"
                )
            clean.setdefault(qid, {})[str(doc)] = int(grade)
    return clean


def _check_documents(ws: Workspace, es: EvalSet, doc_ids: set[str]) -> None:
    found = (
        ws.table(es.table).to_lance().to_table(columns=["id"], filter=pc.field("id").isin(sorted(doc_ids)))
    )
    missing = sorted(doc_ids - set(found.column("id").to_pylist()))
    if missing:
        raise DataError(
            f"{len(missing)} judged document id(s) not in table {es.table!r}, e.g. "
            f"{', '.join(map(repr, missing[:5]))}"
        )


def write_pool(pool: pd.DataFrame, path: str | Path) -> int:
    """Write an unjudged pool as TREC qrels lines ``qid 0 docid -1``; returns the line count.

    Label a line by replacing ``-1`` with its grade; lines left at ``-1`` are ignored by
    :func:`read_labels`, so a partly labelled file can be imported. Ids are written exactly:
    when one holds a space the file is tab-separated (``qid<TAB>0<TAB>docid<TAB>-1``), which
    :func:`read_labels` splits on tabs only; an id with a control character is refused.

    Raises:
        DataError: an id that no qrels line can carry (a tab, a line break, a control
            character); nothing is written.
    """
    pairs = [(str(q), str(d)) for q, d in zip(pool["query_id"], pool["doc_id"], strict=True)]
    for what, index in (("query id", 0), ("document id", 1)):
        bad = next((p[index] for p in pairs if control_character(p[index])), None)
        if bad is not None:
            raise DataError(
                f"{what} {bad!r} contains a control character: no qrels line can carry it; fix the id "
                "in the corpus or the queries and ingest them again"
            )
    sep = "\t" if any(_SPACE.search(q) or _SPACE.search(d) for q, d in pairs) else " "
    lines = [sep.join((q, "0", d, str(UNLABELLED))) + "\n" for q, d in pairs]
    Path(path).write_text("".join(lines), encoding="utf-8")
    return len(lines)


_SPACE = re.compile(r"\s")


def read_labels(path: str | Path) -> Qrels:
    """Labels from a TREC (``qid 0 docid grade``) or BEIR qrels file; ``-1`` lines are skipped.

    Raises:
        DataError: a malformed line, or no labelled line at all.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such file")
    try:
        read = read_qrels(path)
    except DataError as exc:
        if "no judgements found" not in str(exc):
            raise
        read = {}
    labels = {q: {d: g for d, g in judged.items() if g != UNLABELLED} for q, judged in read.items()}
    labels = {q: j for q, j in labels.items() if j}
    if not labels:
        raise DataError(f"{path}: no labelled line; replace the -1 of a line with its grade (0, 1, 2)")
    return labels


def rerun_comparison(ws: Workspace, cmp: Comparison, **options: Any) -> Comparison:
    """The same comparison (columns, eval set — now its latest version —, k, metrics) again.

    ``options`` go to :func:`workbench.comparison.run.compare` (``embedders``, ``on_progress``…).
    """
    from workbench.comparison.run import compare

    m = cmp.manifest
    table = ws.table(m.table)
    sides = {}
    for side, label, column in (
        ("baseline", m.baseline_label, m.baseline_column),
        ("candidate", m.candidate_label, m.candidate_column),
    ):
        # Keep the user's alias when it still names the same column (readable labels).
        same = bool(label) and _resolves_to(ws, table, label, column)
        sides[side] = label if same else column
    return compare(
        ws,
        baseline=sides["baseline"],
        candidate=sides["candidate"],
        eval_set=m.eval_set,
        table=m.table,
        k=m.k_values,
        metrics=m.metrics,
        **options,
    )


def _resolves_to(ws: Workspace, table: Any, label: str, column: str) -> bool:
    try:
        return ws.resolve_column(table, label).name == column
    except WorkbenchError:
        return False
