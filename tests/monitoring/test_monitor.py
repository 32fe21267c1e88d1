"""Monitoring passes over production: realistic drift raises the right alarm, health raises none."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from lancedb.index import IvfPq

from workbench.contract import MONITOR_TABLE, content_hash
from workbench.demo import NEW_MODEL, OLD_MODEL
from workbench.errors import ConfigError, LifecycleError, NotFoundError
from workbench.models.catalog import CATALOG
from workbench.monitoring.config import MonitorConfig, load_monitor_config, parse_monitor_config
from workbench.monitoring.drift import judge_scores
from workbench.monitoring.maintenance import SCHEDULED
from workbench.monitoring.monitor import monitor
from workbench.monitoring.signals import score_features, serve_eval_queries
from workbench.production.history import history
from workbench.production.promote import promote, refresh
from workbench.production.serving import ProductionIndex
from workbench.store.evalsets import load_eval_set
from workbench.store.monitor_runs import MonitorRun, Signal, list_monitor_runs
from workbench.store.query_log import QueryLog
from workbench.store.workspace import Workspace

OLD = CATALOG[OLD_MODEL].column
NEW = CATALOG[NEW_MODEL].column

OFF_TOPIC = [
    "how do I file a tax return as a freelancer",
    "best way to replace a bicycle chain",
    "what is the capital gains tax on shares",
    "how to reset a forgotten router password",
    "symptoms of a failing car alternator",
    "how do interest rates affect mortgage payments",
    "install python packages behind a proxy",
    "how long does a passport renewal take",
    "why does my laptop battery drain overnight",
    "how to negotiate a salary offer",
    "what is the difference between a roth and traditional ira",
    "how to change a flat tyre on the motorway",
    "fixing a leaking bathroom tap washer",
    "how to set up two factor authentication",
    "what does a kernel panic mean on linux",
    "cheapest way to send money abroad",
    "how to train for a first marathon",
    "when should I replace running shoes",
    "how to write a cover letter for an internship",
    "what is the offside rule in football",
]


class Clock:
    """A controllable time source shared by the query log and the passes."""

    def __init__(self) -> None:
        self.now = datetime.now(UTC) + timedelta(minutes=1)

    def __call__(self) -> datetime:
        self.now += timedelta(seconds=1)
        return self.now

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


def _pass(ws: Workspace, embedder, clock: Clock, **options) -> MonitorRun:
    return monitor(ws, "demo", embedder=embedder, now=clock.advance(hours=1), **options)


def _statuses(run: MonitorRun) -> dict[str, str]:
    return {s.name: s.status for s in run.signals}


@pytest.mark.slow
def test_healthy_passes_raise_no_alarm_and_are_recorded(
    demo_ws: Workspace, old_embedder, clock: Clock
) -> None:
    runs = [_pass(demo_ws, old_embedder, clock) for _ in range(3)]
    assert [r.verdict for r in runs] == ["ok", "ok", "ok"] and [r.seq for r in runs] == [1, 2, 3]
    assert _statuses(runs[0]) == {
        "integrity": "ok",
        "eval": "baseline",
        "index_recall": "skipped",
        "scores": "baseline",
        "canary": "ok",
    }
    assert _statuses(runs[2])["eval"] == "ok" and _statuses(runs[2])["scores"] == "ok"
    assert runs[2].signal("eval").values["ndcg@10:delta"] == 0.0
    assert "canaries match the pin (min cosine" in runs[0].signal("canary").reason
    assert runs[0].signal("canary").values["min_cosine"] > 0.999
    assert runs[0].signal("scores").detail["source"] == "eval"
    stored = list_monitor_runs(demo_ws, "demo")
    assert [r.seq for r in stored] == [1, 2, 3] and stored[2].signals == runs[2].signals
    assert stored[0].production_version == demo_ws.table("demo").tags.get_version("production")
    assert stored[0].column == OLD and stored[0].pin == CATALOG[OLD_MODEL].pin
    assert len(demo_ws.db.open_table(MONITOR_TABLE).list_versions()) >= 3  # one version per pass


@pytest.mark.slow
def test_documents_changed_without_re_embedding_raise_a_stale_alarm(
    demo_ws: Workspace, old_embedder, clock: Clock
) -> None:
    assert _pass(demo_ws, old_embedder, clock).verdict == "ok"
    table = demo_ws.table("demo")  # an upstream job rewrites three documents and skips the embedder
    for doc_id in ("d0001", "d0002", "d0003"):
        title = table.search().where(f"id = '{doc_id}'").select(["title"]).to_list()[0]["title"]
        text = "Updated recipe: this article was rewritten after a reader complaint."
        table.update(
            where=f"id = '{doc_id}'", values={"text": text, "content_hash": content_hash(title, text)}
        )
    run = _pass(demo_ws, old_embedder, clock)
    assert run.verdict == "alarm" and _statuses(run)["integrity"] == "alarm"
    assert _statuses(run)["eval"] == "ok"  # production still serves its own, consistent snapshot
    integrity = run.signal("integrity")
    assert integrity.values["stale_latest"] == 3 and integrity.values["stale_production"] == 0
    assert len(run.alarms) == 1
    assert "0 missing / 3 stale at the latest" in run.alarms[0] and "re-ingest them" in run.alarms[0]


@pytest.mark.slow
def test_query_log_moving_to_another_topic_raises_a_score_alarm(
    demo_ws: Workspace, old_embedder, clock: Clock
) -> None:
    queries = list(load_eval_set(demo_ws, "demo").queries.values())
    rng = np.random.default_rng(7)
    log = QueryLog(demo_ws, clock=clock, seed=1, flush_every=1000)
    index = ProductionIndex.open(demo_ws, "demo", embedder=old_embedder, query_log=log)

    def serve(pool: list[str], n: int) -> None:
        for text in rng.choice(pool, size=n):
            index.search(str(text), k=10)
        log.flush()

    runs = []
    for _ in range(3):  # healthy traffic: the cooking questions the corpus answers
        serve(queries, 80)
        runs.append(_pass(demo_ws, old_embedder, clock))
    assert [r.verdict for r in runs] == ["ok"] * 3
    assert runs[0].signal("scores").detail["source"] == "log"
    assert runs[0].signal("scores").detail["n"] == 80  # only the queries since the previous pass
    serve(OFF_TOPIC, 80)  # traffic moves to questions the corpus cannot answer
    run = _pass(demo_ws, old_embedder, clock)
    assert run.verdict == "alarm" and _statuses(run) == {
        "integrity": "ok",
        "eval": "ok",
        "index_recall": "skipped",
        "scores": "alarm",
        "canary": "ok",
    }
    scores = run.signal("scores")
    assert "moved from mean" in scores.reason and "against 3 baseline passes (log)" in scores.reason
    moved = [f for f in ("top1", "margin", "mean_topk") if f"{f} moved" in scores.reason]
    for feature in moved:  # lower scores: the corpus answers these questions worse
        assert scores.values[feature] < scores.values[f"{feature}:baseline_mean"]
        assert scores.values[f"{feature}:ks"] >= 0.2 and scores.values[f"{feature}:p"] < 0.001 / 3


@pytest.mark.slow
def test_an_index_built_with_poor_parameters_raises_recall_and_eval_alarms(
    demo_ws: Workspace, old_embedder, clock: Clock
) -> None:
    assert _pass(demo_ws, old_embedder, clock).verdict == "ok"
    table = demo_ws.table("demo")
    # One byte per vector (one PQ sub-vector): recall@10 0.47-0.53 and nDCG@10 -0.22 +- 0.07 over
    # repeated trainings. Four sub-vectors fell anywhere from -0.04 to -0.13 with the codebook's
    # random start, sometimes inside the noise, so the eval alarm was a coin toss.
    table.create_index(OLD, config=IvfPq(distance_type="cosine", num_partitions=32, num_sub_vectors=1))
    refresh(demo_ws, "demo", reason="serve through the new index")
    run = _pass(demo_ws, old_embedder, clock)
    assert run.verdict == "alarm"
    assert _statuses(run)["index_recall"] == "alarm" and _statuses(run)["eval"] == "alarm"
    recall = run.signal("index_recall")
    assert recall.values["recall@10"] < 0.9 and "the index misses true neighbours" in recall.reason
    assert "ndcg@10 fell from" in run.signal("eval").reason
    assert run.signal("eval").values["ndcg@10:ci_high"] < 0


@pytest.mark.slow
def test_scheduled_retirement_after_the_grace_period(
    compared_ws: Workspace, comparison_id: str, new_embedder, clock: Clock
) -> None:
    promote(compared_ws, "demo", NEW, comparison=comparison_id)
    early = monitor(compared_ws, "demo", embedder=new_embedder, now=clock.advance(days=1))
    assert early.actions == () and OLD in compared_ws.table("demo").schema.names
    late = monitor(compared_ws, "demo", embedder=new_embedder, now=clock.advance(days=7))
    assert late.verdict == "ok" and len(late.actions) >= 1
    assert late.actions[0].startswith(f"retired {OLD} from 'demo'")
    table = compared_ws.table("demo")
    assert OLD not in table.schema.names and NEW in table.schema.names
    events = history(compared_ws, "demo")
    retired = [e for e in events if e.action == "retire"]
    assert len(retired) == 1 and retired[0].from_column == OLD and retired[0].reason == SCHEDULED
    again = monitor(compared_ws, "demo", embedder=new_embedder, now=clock.advance(days=1))
    assert not any(a.startswith("retired") for a in again.actions)  # done once, not again


@pytest.mark.slow
def test_scheduled_retirement_spares_candidates_and_team_tags(
    compared_ws: Workspace, comparison_id: str, demo_ws: Workspace, old_embedder, new_embedder, clock: Clock
) -> None:
    never = monitor(demo_ws, "demo", embedder=old_embedder, now=clock.advance(days=30))
    assert NEW in demo_ws.table("demo").schema.names  # never production: the team's to retire
    assert not any(a.startswith("retired") for a in never.actions)
    table = compared_ws.table("demo")
    table.tags.create("release-2026-11", table.tags.get_version("production"))  # serves the old column
    promote(compared_ws, "demo", NEW, comparison=comparison_id)
    run = monitor(compared_ws, "demo", embedder=new_embedder, now=clock.advance(days=30))
    assert OLD in compared_ws.table("demo").schema.names
    assert not any(a.startswith("retired") for a in run.actions)


@pytest.mark.slow
def test_maintenance_compacts_and_prunes_and_records_it(
    demo_ws: Workspace, old_embedder, clock: Clock
) -> None:
    config = MonitorConfig(retire_after="0s")
    run = _pass(demo_ws, old_embedder, clock, config=config)
    maintained = [e for e in history(demo_ws, "demo") if e.action == "maintain"]
    assert len(maintained) == 1 and "pruned" in maintained[0].reason
    assert any(a.startswith("maintained 'demo'") for a in run.actions)
    table = demo_ws.table("demo")
    for info in table.tags.list().values():  # every tagged version survives, readable
        table.checkout(info["version"])
        assert table.count_rows() == 432
        table.checkout_latest()
    assert _pass(demo_ws, old_embedder, clock, config=config).verdict == "ok"


def test_no_production_is_an_error_and_records_nothing(empty_ws: Workspace) -> None:
    from tests.conftest import write_corpus
    from workbench.embedding.ingest import ingest

    ingest(empty_ws, write_corpus(empty_ws.state_dir.parent / "c.jsonl", {"a": ("", "text")}), table="docs")
    with pytest.raises(
        LifecycleError, match=r"table 'docs' has no 'production' tag: nothing is in production"
    ):
        monitor(empty_ws, "docs")
    assert not empty_ws.has_table(MONITOR_TABLE)
    with pytest.raises(NotFoundError, match=r"no table 'nope'"):
        monitor(empty_ws, "nope")


def test_unknown_eval_set_is_an_error(demo_ws: Workspace) -> None:
    with pytest.raises(NotFoundError, match=r"no eval set 'missing'"):
        monitor(demo_ws, "demo", config=MonitorConfig(eval_set="missing"))
    assert not demo_ws.has_table(MONITOR_TABLE)


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"score_alpha": 2}, r"setting 'score_alpha': must be in \(0, 1\), got 2"),
        ({"metrics": ["ndgc@10"]}, r"setting 'metrics': unknown metric 'ndgc@10'"),
        ({"retire_after": "a week"}, r"duration 'a week' is not understood"),
        ({"baseline_passes": 0}, r"setting 'baseline_passes': must be at least 1"),
        ({"thresholds": 1}, r"setting 'thresholds': Extra inputs are not permitted"),
    ],
)
def test_bad_monitor_config(raw: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_monitor_config(raw)


def test_monitor_config_file(tmp_path) -> None:
    path = tmp_path / "monitor.toml"
    path.write_text('retire_after = ""\nmetrics = ["mrr@20"]\n', encoding="utf-8")
    config = load_monitor_config(path)
    assert config.grace is None and config.k == 20
    path.write_text("retire_after = [", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"monitor.toml: not valid TOML"):
        load_monitor_config(path)
    with pytest.raises(NotFoundError, match=r"monitor config .* does not exist"):
        load_monitor_config(tmp_path / "absent.toml")


@pytest.fixture(scope="module")
def real_score_pool(demo_template, embedders) -> Iterator[dict[str, np.ndarray]]:
    """Score features of the demo queries as production serves them (a realistic healthy pool)."""
    from workbench.production.serving import resolve_production
    from workbench.store.workspace import open_workspace

    ws = open_workspace(demo_template)
    handle, column = resolve_production(ws, "demo")
    served = serve_eval_queries(
        handle, column, embedders[column.name], load_eval_set(ws, "demo").queries, k=10
    )
    yield {f: np.asarray(v) for f, v in score_features(served.scores).items()}


def test_false_alarm_rate_over_50_healthy_passes(real_score_pool: dict[str, np.ndarray]) -> None:
    """Healthy traffic (resampled real queries) must not alarm from sampling noise.

    Per pass the chance of a false alarm is at most score_alpha = 0.001 (Bonferroni over the
    three features), so over 50 passes P(2 or more alarms) < 0.002: a bound this fixed seed
    must meet.
    """
    rng = np.random.default_rng(20261201)
    config = MonitorConfig()
    n = len(real_score_pool["top1"])

    def healthy_pass() -> Signal:
        rows = rng.integers(0, n, size=200)
        sample = {f: real_score_pool[f][rows].tolist() for f in real_score_pool}
        return Signal("scores", "baseline", "healthy", {}, {"source": "log", "sample": sample})

    window = [
        MonitorRun("demo", i, "", 1, OLD, "", "ok", (), (healthy_pass(),))
        for i in range(config.baseline_passes)
    ]
    verdicts = [judge_scores(healthy_pass(), window, config).status for _ in range(50)]
    assert verdicts.count("alarm") <= 1
    shifted = healthy_pass()
    shifted.detail["sample"]["top1"] = [x - 0.15 for x in shifted.detail["sample"]["top1"]]
    assert judge_scores(shifted, window, config).status == "alarm"  # the same test does see a real shift
