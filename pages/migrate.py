"""Migrate: add a corpus (upload or path), pin models, re-embed with live progress (resumable)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import streamlit as st

from workbench import PinOptions, ServingOptions, embed, list_eval_sets, pin_model, verify_model
from workbench.embedding.checkpoint import pending_run
from workbench.embedding.progressive import embed_progressive
from workbench.errors import InvalidArgumentError
from workbench.models.pin_options import PinOptionError, pin_source
from workbench.store.paths import require_inside
from workbench.store.status import pinned_models
from workbench_app import onboarding, resources
from workbench_app.context import allowed_root, current, open_or_stop
from workbench_app.guard import KEY_ENVS_VAR, URLS_VAR, check_served
from workbench_app.shell import setup_page
from workbench_app.ui import RateProgress, model_short, reported, when

STATE_MARKS = {"production": "● production", "embedded": "✓ embedded", "not embedded": "not embedded"}
SERVED_LABELS = {
    "source": "Source",
    "base_url": "Base URL / host",
    "host": "Base URL / host",
    "model": "Model",
    "query_input_type": "Query input type",
    "document_input_type": "Document input type",
    "query_prefix": "Query prefix",
    "document_prefix": "Document prefix",
}
INTRO = (
    "A model change is a migration: the new model writes its **own** vector column beside the "
    "old one, so search never mixes two embedding spaces. Runs are streamed and checkpointed; "
    "the column appears in one new table version, whole, or not at all."
)


def _coverage_section() -> None:
    """Quality against coverage: transition search simulated at each coverage of a new column."""
    st.markdown("##### Quality against coverage")
    st.caption(
        "What a half-done migration is worth: transition search (new column over the rows it "
        "covers, production's over the others) at 0–100 % coverage, simulated by masking two "
        "complete columns, for each priority order and merge. Needs the new column complete."
    )
    candidates = [c["name"] for c in status["columns"] if not c["production"]]
    sets = [str(e["name"]) for e in list_eval_sets(ws, table=ctx.table)]
    if not candidates or not sets or status["active_column"] is None:
        st.info("Needs a production column, a second column and a labelled eval set.", icon=":material/info:")
        return
    c1, c2 = st.columns(2)
    column = c1.selectbox("New column", candidates, key="migrate.curve_column")
    eval_set = c2.selectbox("Eval set", sets, key="migrate.curve_set")
    if st.button("Measure the curve", key="migrate.curve", icon=":material/show_chart:"):
        with reported("Measuring"), st.spinner("Encoding the eval queries with both models…"):
            st.session_state["migrate.curve_result"] = resources.coverage_curve(
                ctx.uri, ctx.table, ctx.version, column, eval_set
            )
    curve = st.session_state.get("migrate.curve_result")
    if curve is not None:
        st.plotly_chart(curve.figure(), key="migrate.curve_chart")
        wins = {
            f"{p} · {m}": curve.first_win(p, m)
            for p in ("random", "new-first", "query-log")
            for m in ("rrf", "calibrated")
        }
        st.caption(
            "First coverage beating the old column on nDCG@10 (95 % interval above 0): "
            + "; ".join(f"{k}: {'never' if v is None else f'{v:g} %'}" for k, v in wins.items())
        )


setup_page()
if not open_or_stop().table_names():
    st.title("Add your data")
    st.caption("This workspace has no corpus yet. " + INTRO)
    onboarding.show_ingested()
    onboarding.ingest_section(open_or_stop())
    st.stop()

ctx = current()
ws = ctx.ws
status = resources.status(ctx.uri, ctx.table, ctx.version)
existing = {c["name"]: c for c in status["columns"]}
models = ws.config.all_models()

st.title("Migrate")
st.caption(INTRO)
onboarding.show_ingested()

embed_tab, pin_tab, ingest_tab = st.tabs(
    [
        ":material/sync_alt: Re-embed",
        ":material/push_pin: Pin a model",
        ":material/upload: Add or update a corpus",
    ]
)

with embed_tab:
    left, right = st.columns([2, 3], gap="large")
    with left:
        # Labels and order stay fixed: the browser keeps a selected option's label across reruns,
        # so a label carrying the embed state read "not embedded" right after the embed.
        alias = st.selectbox(
            "Pinned model",
            sorted(models),
            key="migrate.alias",
            format_func=lambda a: f"{a} · {model_short(models[a].name)}",
            help="Aliases from the built-in catalog and this workspace's workbench.toml. Whether "
            "the table has each one's column is shown beside it and under Pinned models.",
        )
        ref = models[alias]
        pending = pending_run(ws, ctx.table, ref)
        resuming = pending is not None and pending.valid
        batch_size = 256
        if resuming:
            st.caption(f"Rows per checkpoint: **{pending.batch_size}**, as in the interrupted run.")
        elif ref.column not in existing:
            batch_size = st.select_slider(
                "Rows per checkpoint", options=[64, 128, 256, 512, 1024], value=256, key="migrate.batch"
            )
    with right:
        st.markdown(f"**{model_short(ref.name)}** · revision `{ref.revision}` · {ref.dim}-d")
        st.caption(
            f"sha256 `{ref.fingerprint}`  \nsource: {ref.source} `{ref.location}`  \n→ column `{ref.column}`"
        )
        if ref.column in existing and existing[ref.column].get("progressive"):
            column_status = existing[ref.column]
            st.info(
                f"**Progressive** column: {column_status['embedded_rows']:,} of {status['rows']:,} rows "
                f"embedded ({column_status['embedded_rows'] / max(status['rows'], 1):.0%}). Continue it "
                "progressively, or complete it into a whole column (untick *Progressive*).",
                icon=":material/hourglass_top:",
            )
        elif ref.column in existing:
            st.success(
                f"Table **{ctx.table}** already has this column "
                f"(embedded {when(existing[ref.column]['created_at'])}).",
                icon=":material/check_circle:",
            )
        elif resuming:
            st.info(
                f"An interrupted run left **{pending.rows_done:,} of {pending.rows_total:,}** rows of "
                f"**{ctx.table}** v{pending.table_version} checkpointed: resuming embeds the other "
                f"{pending.rows_total - pending.rows_done:,}.",
                icon=":material/resume:",
            )
        elif pending is not None:
            st.warning(
                f"An interrupted run embedded {pending.rows_done:,} rows of v{pending.table_version}, "
                f"but the table is at v{ctx.version} now: starting discards those checkpoints and "
                f"embeds all {status['rows']:,} documents.",
                icon=":material/history:",
            )
        else:
            st.info(
                f"Will embed {status['rows']:,} documents of **{ctx.table}** into a new column. "
                "If the run is interrupted, starting it again resumes from the last checkpoint.",
                icon=":material/info:",
            )
    is_progressive = ref.column in existing and bool(existing[ref.column].get("progressive"))
    whole = ref.column in existing and not is_progressive
    p1, p2, p3 = st.columns([1, 1, 1])
    progressive = p1.checkbox(
        "Progressive",
        value=is_progressive,
        key="migrate.progressive",
        disabled=whole or resuming,
        help="Fill the column batch by batch (one table version each) while production keeps "
        "serving; serve it meanwhile with transition search (Live query).",
    )
    priority = p2.selectbox(
        "Priority", ["random", "new-first", "query-log"], key="migrate.priority", disabled=not progressive
    )
    budget = p3.number_input(
        "Budget (rows, 0 = all)",
        min_value=0,
        value=0,
        step=256,
        key="migrate.budget",
        disabled=not progressive,
    )
    if resuming:
        label, icon = (
            f"Resume ({pending.rows_done:,} of {pending.rows_total:,} rows done)",
            ":material/resume:",
        )
    elif is_progressive:
        label, icon = (
            ("Continue progressively" if progressive else "Complete the column"),
            ":material/resume:",
        )
    else:
        label, icon = "Start re-embedding", ":material/play_arrow:"
    start = st.button(label, key="migrate.start", type="primary", icon=icon, disabled=whole)
    if start and progressive:
        with reported("Embedding"):
            model = resources.embedder(ref.model_dump_json())
            progress = RateProgress(f"Embedding {ctx.table} with {alias} (progressive, {priority})")
            done = embed_progressive(
                ws,
                ctx.table,
                ref,
                embedder=model,
                priority=priority,
                budget_rows=int(budget) or None,
                batch_size=batch_size,
                on_progress=progress,
            )
            progress.done(f"Done: {done.rows_embedded:,} rows in {done.seconds:.1f} s")
            st.session_state["migrate.last"] = done.message
            st.rerun()
    elif start:
        with reported("Embedding"):
            model = resources.embedder(ref.model_dump_json())
            progress = RateProgress(f"Embedding {ctx.table} with {alias}")
            rows_per_checkpoint = pending.batch_size if resuming else batch_size
            result = embed(
                ws, ctx.table, ref, embedder=model, batch_size=rows_per_checkpoint, on_progress=progress
            )
            progress.done(f"Done: {result.rows:,} rows in {result.seconds:.1f} s")
            st.session_state["migrate.last"] = result.message
            st.rerun()
    if "migrate.last" in st.session_state:
        st.success(st.session_state["migrate.last"], icon=":material/task_alt:")
        st.caption("Next: compare the new column with production on the **Compare** page.")
    st.markdown("##### Pinned models")
    listing = pd.DataFrame(pinned_models(ws, table=resources.table_at(ctx.uri, ctx.table, ctx.version)))
    st.dataframe(
        listing.assign(
            model=listing["name"].map(model_short),
            state=listing["state"].map(STATE_MARKS),
        )[["alias", "model", "revision", "dim", "source", "location", "days_left", "state"]],
        hide_index=True,
        width="stretch",
        column_config={
            "alias": st.column_config.TextColumn("Alias", width="small"),
            "model": st.column_config.TextColumn("Model"),
            "revision": st.column_config.TextColumn("Revision", width="small"),
            "dim": st.column_config.NumberColumn("Dim", width=50),
            "source": st.column_config.TextColumn("Source", width=70),
            "location": st.column_config.TextColumn(
                "Package / path / URL", width="medium", help="Where the weights or the server are"
            ),
            "days_left": st.column_config.NumberColumn(
                "Sunset in", width="small", format="%d days", help="Days until the provider retires it"
            ),
            "state": st.column_config.TextColumn(f"In {ctx.table}", width="small"),
        },
    )

    _coverage_section()

with pin_tab:
    st.caption(
        "Pin a local sentence-transformers directory: the workbench fingerprints its weight "
        "files, embeds the canary texts and records name, revision and dimension in "
        "`workbench.toml`. Moving revisions such as `latest` are refused; pickle weights need an "
        "explicit opt-in."
    )
    with st.form("migrate.pin_form", border=True):
        c1, c2 = st.columns(2)
        pin_path = c1.text_input("Model directory", key="migrate.pin_path", placeholder="/models/my-encoder")
        pin_alias = c2.text_input("Alias", key="migrate.pin_alias", placeholder="my-encoder-v2")
        c3, c4 = st.columns(2)
        pin_revision = c3.text_input("Revision (exact)", key="migrate.pin_revision", placeholder="2024-05-01")
        pin_name = c4.text_input("Model name (optional)", key="migrate.pin_name")
        c5, c6 = st.columns(2)
        query_prefix = c5.text_input("Query prefix", key="migrate.pin_qp", placeholder="query: ")
        doc_prefix = c6.text_input("Document prefix", key="migrate.pin_dp", placeholder="passage: ")
        pinned = st.form_submit_button("Pin model", icon=":material/push_pin:")
    if pinned:
        if not (pin_path and pin_alias and pin_revision):
            st.error("Give a model directory, an alias and an exact revision.", icon=":material/error:")
        else:
            with reported("Pinning"):
                local = PinOptions(
                    source="path",
                    path=str(require_inside(pin_path, allowed_root())),
                    name=pin_name or Path(pin_path).name,
                    revision=pin_revision,
                    query_prefix=query_prefix,
                    document_prefix=doc_prefix,
                )
                new_ref, _ = pin_model(ws, pin_alias, local)
                st.success(f"Pinned **{pin_alias}** = `{new_ref.pin}` ({new_ref.dim}-d) → `{new_ref.column}`")

    st.markdown("**Pin a served model**")
    st.caption(
        "Any OpenAI-compatible `/v1/embeddings` (OpenAI, Azure, vLLM, TEI, infinity, …) or Ollama. "
        "No file can be hashed, so the pin is behavioural: 32 canary texts are embedded now and "
        "re-checked before every use. Give the **name** of the environment variable that holds "
        "the API key; the key itself is never stored or shown. The server's operator decides "
        f"which variables (`{KEY_ENVS_VAR}`) and base URLs (`{URLS_VAR}`, or a served model "
        "already in `workbench.toml`) this form may use."
    )
    with st.form("migrate.served_form", border=True):
        s1, s2 = st.columns(2)
        served_source = s1.selectbox("Source", ["openai", "ollama"], key="migrate.served_source")
        served_alias = s2.text_input("Alias", key="migrate.served_alias", placeholder="e3-small")
        s3, s4 = st.columns(2)
        served_url = s3.text_input(
            "Base URL / host", key="migrate.served_url", placeholder="https://api.openai.com/v1"
        )
        served_model = s4.text_input(
            "Model (ollama: name:tag)", key="migrate.served_model", placeholder="text-embedding-3-small"
        )
        s5, s6, s7 = st.columns(3)
        served_key = s5.text_input("API key variable", key="migrate.served_key", placeholder="OPENAI_API_KEY")
        served_dims = s6.number_input("Dimensions (0: native)", min_value=0, key="migrate.served_dims")
        served_digest = s7.text_input("Ollama digest (optional)", key="migrate.served_digest")
        s8, s9 = st.columns(2)
        served_qtype = s8.text_input(
            "Query input type (openai, optional)",
            key="migrate.served_qtype",
            placeholder="query",
            help="For a model that embeds queries and documents apart (E5, NIM retrievers): "
            "the `input_type` sent with queries. Part of the pin.",
        )
        served_dtype = s9.text_input(
            "Document input type (openai, optional)",
            key="migrate.served_dtype",
            placeholder="passage",
            help="The `input_type` sent with documents.",
        )
        served_pinned = st.form_submit_button("Pin served model", icon=":material/cloud_done:")
    if served_pinned:
        if not (served_alias and served_url and served_model):
            st.error("Give an alias, the base URL (or host) and the model name.", icon=":material/error:")
        else:
            with reported("Pinning"):
                try:
                    served = PinOptions(
                        source=pin_source(served_source),
                        base_url=served_url if served_source == "openai" else None,
                        host=served_url if served_source == "ollama" else None,
                        model=served_model,
                        api_key_env=served_key.strip() or None,
                        dimensions=int(served_dims) or None,
                        digest=served_digest or None,
                        query_input_type=served_qtype.strip() or None,
                        document_input_type=served_dtype.strip() or None,
                        serving=ServingOptions(),
                    )
                except PinOptionError as exc:  # named by this form's labels, not by field names
                    raise InvalidArgumentError(exc.describe(lambda o: f"**{SERVED_LABELS[o]}**")) from exc
                # Before any request: the server's variables go only to URLs the operator allowed.
                check_served(ws, url=served_url, key_env=served.api_key_env)
                new_ref, canaries = pin_model(ws, served_alias, served)
                result = verify_model(ws, served_alias)
                st.success(
                    f"Pinned **{served_alias}** = `{new_ref.pin}` → `{new_ref.column}`; the server reports "
                    f"`{new_ref.served_model}`, {new_ref.dim}-d, "
                    f"{'unit-length' if new_ref.normalize else 'not normalised'} vectors."
                )
                st.metric(
                    "Canary re-check: minimum cosine",
                    f"{result.min_cosine:.5f}",
                    help=f"{len(canaries.vectors)} canary texts, threshold {result.threshold}, "
                    f"{result.seconds:.2f}s",
                )

with ingest_tab:
    onboarding.ingest_section(ws)
