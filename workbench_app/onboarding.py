"""Adding a corpus from the app: upload files or name a server path, validate, then ingest.

Validation reads the whole input with the library's readers and shows what would be written
(documents, queries, judgements, what the empty-text policy did) before anything is; the
Ingest button then writes exactly the collection that was validated.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from typing import TYPE_CHECKING

import streamlit as st

from workbench import read_collection
from workbench.corpus.readers import Collection
from workbench.corpus.stream import EMPTY_POLICIES
from workbench.corpus.uploads import Upload, stage_upload
from workbench.embedding.ingest import ingest_collection
from workbench.store.paths import require_inside
from workbench_app.context import SELECT_TABLE_KEY, allowed_root
from workbench_app.ui import RateProgress, reported

if TYPE_CHECKING:
    from streamlit.runtime.uploaded_file_manager import UploadedFile

    from workbench import Workspace

UPLOAD, SERVER = "Upload files", "Path on the server"
_POLICY_LABELS = {
    "error": "refuse the input (default)",
    "skip": "skip them (and their judgements)",
    "title": "embed their title instead",
}


@dataclass(frozen=True)
class Checked:
    """A validated collection and the inputs it was read from (a change invalidates it)."""

    signature: tuple[object, ...]
    collection: Collection


def ingest_section(ws: Workspace, *, key: str = "migrate") -> None:
    """The whole add-a-corpus flow; ``key`` namespaces the widgets."""
    st.caption(
        "Upload a BEIR folder as a .zip (corpus.jsonl, queries.jsonl, qrels/test.tsv) or a corpus "
        "file (.jsonl, .csv, .parquet) with optional queries and qrels — or name a folder or file "
        "on the machine the app runs on. Everything is validated first and shown below; nothing "
        "is written until you press Ingest. Updating an existing table is a dual-write: changed "
        "documents are embedded by every column's own model in the same version."
    )
    source = st.radio("Source", [UPLOAD, SERVER], key=f"{key}.source", horizontal=True)
    files: tuple[UploadedFile | None, ...] = ()
    path = ""
    if source == UPLOAD:
        c1, c2, c3 = st.columns([2, 1, 1])
        files = (
            c1.file_uploader(
                "Corpus: BEIR folder (.zip) or corpus file",
                type=["zip", "jsonl", "json", "csv", "tsv", "parquet"],
                key=f"{key}.upload_corpus",
            ),
            c2.file_uploader(
                "Queries (optional)", type=["jsonl", "json", "csv", "tsv"], key=f"{key}.upload_queries"
            ),
            c3.file_uploader(
                "Qrels (optional)", type=["tsv", "txt", "qrels", "trec"], key=f"{key}.upload_qrels"
            ),
        )
    else:
        path = st.text_input(
            "Path", key=f"{key}.ingest_path", placeholder="/data/my-beir-folder or corpus.jsonl"
        )
    c1, c2, c3 = st.columns(3)
    table = c1.text_input("Table (default: the folder or file name)", key=f"{key}.ingest_table")
    eval_name = c2.text_input("Eval set (default: the folder name)", key=f"{key}.ingest_eval")
    policy = c3.selectbox(
        "Documents with empty text",
        EMPTY_POLICIES,
        key=f"{key}.on_empty",
        format_func=_POLICY_LABELS.__getitem__,
        help="Public collections have such rows (Cranfield has two).",
    )
    signature = (source, path, policy, *((f.name, f.size) if f else None for f in files))
    checked_key = f"{key}.checked"
    if st.button("Validate", key=f"{key}.validate", icon=":material/fact_check:"):
        st.session_state.pop(checked_key, None)
        with reported("Validation"):
            collection = _read(source, path, files, policy)
            if collection is not None:
                st.session_state[checked_key] = Checked(signature, collection)
    checked: Checked | None = st.session_state.get(checked_key)
    if checked is None or checked.signature != signature:
        return
    target = table.strip() or None
    _show(checked.collection, target)
    if st.button(
        f"Ingest {checked.collection.corpus.num_rows:,} documents",
        key=f"{key}.ingest",
        type="primary",
        icon=":material/upload:",
    ):
        with reported("Ingest"):
            result = ingest_collection(
                ws,
                checked.collection,
                table=target,
                eval_set=eval_name.strip() or None,
                on_progress=RateProgress("Dual-writing changed documents", lazy=True),
            )
            st.session_state.pop(checked_key, None)
            st.session_state[f"{key}.ingested"] = result.message
            st.session_state[SELECT_TABLE_KEY] = result.table
            st.rerun()


def show_ingested(key: str = "migrate") -> None:
    """The last ingest's message, once."""
    message = st.session_state.pop(f"{key}.ingested", None)
    if message:
        st.success(message, icon=":material/task_alt:")


def _read(source: str, path: str, files: tuple[UploadedFile | None, ...], policy: str) -> Collection | None:
    if source == SERVER:
        if not path.strip():
            st.error("Give the path of a BEIR folder or a corpus file.", icon=":material/error:")
            return None
        # A server path is a write action's input: refused outside WORKBENCH_ALLOWED_ROOT when set.
        return read_collection(require_inside(path.strip(), allowed_root()), on_empty=policy)  # type: ignore[arg-type]
    corpus, queries, qrels = files
    if corpus is None:
        st.error("Upload a corpus file or a BEIR folder as .zip first.", icon=":material/error:")
        return None
    staging = tempfile.mkdtemp(prefix="workbench-upload-")
    folder = stage_upload(
        staging,
        Upload(corpus.name, corpus.getvalue()),
        queries=Upload(queries.name, queries.getvalue()) if queries else None,
        qrels=Upload(qrels.name, qrels.getvalue()) if qrels else None,
    )
    return read_collection(folder, on_empty=policy)  # type: ignore[arg-type]


def _show(collection: Collection, table: str | None) -> None:
    """What ingesting would write."""
    n_judgements = sum(len(j) for j in collection.qrels.values())
    with st.container(border=True):
        st.markdown(f"**✓ Valid** · `{collection.name}` → table **{table or collection.name}**")
        m = st.columns(4)
        m[0].metric("Documents", f"{collection.corpus.num_rows:,}")
        m[1].metric("Queries", f"{len(collection.queries):,}")
        m[2].metric("Judged queries", f"{len(collection.qrels):,}")
        m[3].metric("Judgements", f"{n_judgements:,}")
        if collection.report:
            st.warning(f"{collection.report[0].upper()}{collection.report[1:]}.", icon=":material/rule:")
        if not collection.queries:
            st.caption("No queries: comparisons will need an eval set; rank shifts work on any queries.")
        preview = collection.corpus.slice(0, 5).select(["id", "title", "text"]).to_pandas()
        st.dataframe(preview, hide_index=True, width="stretch", key="onboarding.preview")
