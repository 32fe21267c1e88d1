"""The embedding migration workbench app: ``streamlit run app.py``.

This is the entry page, Workspace, at the root URL: tables, vector columns with their pins,
production, health, versions, history. The other pages are the scripts in ``pages/`` (Streamlit's
classic multipage app: each page's URL is its file name). Every page, this one included, starts
with :func:`workbench_app.shell.setup_page`, which draws the sidebar (grouped page links,
workspace and table) and builds the demo workspace on first start. The pages are thin clients
of the ``workbench`` library.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from workbench_app import lifecycle, resources
from workbench_app.context import current
from workbench_app.shell import setup_page
from workbench_app.ui import model_short, reported, short_columns_in, short_tag, when

setup_page()
ctx = current()
status = resources.status(ctx.uri, ctx.table, ctx.version)
columns: list[dict] = status["columns"]
production = status["active_column"]

st.title(f"Workspace · {ctx.table}")
st.caption(
    f"`{ctx.uri}` — one LanceDB table per corpus, one vector column per pinned model. "
    "Every write makes a new table version; tags mark the production and candidate versions."
)

prod_model = next((model_short(c["model"]) for c in columns if c["production"]), None)
unhealthy = sum(1 for c in columns if c["missing_rows"] or c["stale_rows"])
m1, m2, m3, m4 = st.columns([1, 1, 1, 3])
m1.metric("Documents", f"{status['rows']:,}")
m2.metric("Vector columns", len(columns))
m3.metric(
    "Latest version",
    status["version"],
    help="The newest table version. Search serves the production version (see the timeline), "
    "which can be older, e.g. after a rollback.",
)
m4.metric(
    "Production",
    f"{prod_model} · v{status['tags']['production']}"
    if prod_model and "production" in status["tags"]
    else "none",
    help=production or "No column is production yet.",
)

st.subheader("Vector columns")
if not columns:
    st.info("No vector column yet: embed the corpus with a pinned model on the **Migrate** page.")
else:
    frame = pd.DataFrame(columns)
    frame.insert(0, "role", ["● production" if p else "○ candidate" for p in frame["production"]])
    frame["model"] = frame["model"].map(model_short)
    frame["fingerprint"] = frame["fingerprint"].str[:12] + "…"
    frame["created_at"] = frame["created_at"].map(when)
    frame["health"] = [
        "✓ complete" if not (m or s) else f"⚠ {m} missing · {s} stale"
        for m, s in zip(frame["missing_rows"], frame["stale_rows"], strict=True)
    ]
    checks = resources.canary_checks(ctx.uri)
    frame["verified"] = [when(checks[n]["checked_at"]) if n in checks else "never" for n in frame["name"]]
    frame["min_cosine"] = [float(checks[n]["min_cosine"]) if n in checks else None for n in frame["name"]]
    frame["ann"] = [
        f"{index} · {unindexed:,} unindexed" if index else "none (exact search)"
        for index, unindexed in zip(frame["index"], frame["unindexed_rows"], strict=True)
    ]
    identity = {
        "role": st.column_config.TextColumn("Role", width=105),
        "model": st.column_config.TextColumn("Model", width=190),
    }
    st.dataframe(
        frame[["role", "model", "revision", "dim", "health", "ann", "verified"]],
        hide_index=True,
        width="stretch",
        key="workspace.columns",
        column_config={
            **identity,
            "revision": st.column_config.TextColumn("Revision", width=75),
            "dim": st.column_config.NumberColumn("Dim", width=50),
            "health": st.column_config.TextColumn("Rows", width=120),
            "ann": st.column_config.TextColumn("ANN index", help="`workbench index COLUMN` builds one"),
            "verified": st.column_config.TextColumn(
                "Canaries verified", width=150, help="Last passing re-check of the model's canary vectors"
            ),
        },
    )
    with st.expander("Pins: column names, fingerprints, canary cosines", icon=":material/fingerprint:"):
        st.dataframe(
            frame[["role", "model", "name", "fingerprint", "min_cosine", "created_at"]],
            hide_index=True,
            width="stretch",
            key="workspace.pins",
            column_config={
                **identity,
                "name": st.column_config.TextColumn("Column", help="The vector column's name in the table"),
                "fingerprint": st.column_config.TextColumn(
                    "sha256", width=120, help="Fingerprint of the weights"
                ),
                "min_cosine": st.column_config.NumberColumn("Min cosine", format="%.5f", width=90),
                "created_at": st.column_config.TextColumn("Embedded at", width=150),
            },
        )
    if unhealthy:
        st.warning(
            f"{unhealthy} column(s) have missing or stale rows: the text changed after embedding "
            "or rows were added without a dual-write. Re-ingest the corpus (dual-write) on the "
            "**Migrate** page before comparing or promoting.",
            icon=":material/warning:",
        )
    else:
        st.caption("Every column has a vector for every row, computed from the row's current text.")

st.subheader("Versions")
st.caption(
    "Newest first, each with what it changed (read from LanceDB's transaction log). Tags pin a "
    "version: `production` is what search serves, `candidate-…` marks where each column first appeared."
)
names = lifecycle.model_names(ctx.ws, ctx.ws.table(ctx.table))
prod_version = status["tags"].get("production")
versions = lifecycle.annotate_timeline(
    resources.timeline(ctx.uri, ctx.table, ctx.version), resources.history(ctx.uri, ctx.table), prod_version
).assign(
    change=lambda f: f["change"].map(lambda text: short_columns_in(text, names)),
    tags=lambda f: f["tags"].map(lambda tags: " · ".join(short_tag(t) for t in tags)),
)
st.dataframe(
    versions,
    hide_index=True,
    width="stretch",
    height=min(35 * (len(versions) + 1) + 3, 388),
    key="workspace.versions",
    column_order=["version", "production", "timestamp", "change", "rows", "tags"],
    column_config={
        "version": st.column_config.NumberColumn("Version", width=62),
        "production": st.column_config.TextColumn("Serves", width=100, help="The version search serves"),
        "timestamp": st.column_config.DatetimeColumn("Committed", format="YYYY-MM-DD HH:mm", width=135),
        "change": st.column_config.TextColumn("Change", width=300),
        "rows": st.column_config.NumberColumn("Rows", width=60),
        "tags": st.column_config.TextColumn(
            "Tags", help="production: what search serves; candidate: where a column first appeared"
        ),
    },
)

st.subheader("Eval sets")
with reported("Reading eval sets"):
    sets = resources.eval_sets(ctx.uri, ctx.table)
    if sets:
        st.dataframe(
            pd.DataFrame(sets)[["name", "version", "n_queries", "n_judged", "created_at"]].assign(
                created_at=lambda f: f["created_at"].map(when)
            ),
            hide_index=True,
            width="stretch",
            column_config={
                "name": st.column_config.TextColumn("Eval set", width="large"),
                "version": st.column_config.NumberColumn("Version", width=70),
                "n_queries": st.column_config.NumberColumn("Queries"),
                "n_judged": st.column_config.NumberColumn("Judged"),
                "created_at": st.column_config.TextColumn("Created"),
            },
        )
    else:
        st.caption("No eval set for this table: comparisons can still measure rank shifts.")

st.subheader("Promotion history")
lifecycle.history_section(ctx)
