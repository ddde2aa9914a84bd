"""Activation in the warehouse: experiment_results detects the sample's known effect and not its
A/A test, attributes only what happens after assignment (hand-checked fixture), the
recommendation feedback recovers the generator's click-through rates, marketing_audiences holds
only marketable customers under salted hashes, and the warn-severity monitoring tests flag a
quarantine-rate spike and silhouette and NDCG drops against the previous build."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest
import yaml
from dbt.adapters.duckdb.plugins import BasePlugin

from segrec.bandits import assign_strategies, assignment_period
from segrec.dbt_plugin import DEMO_SALT, pii_salt
from segrec.generate.reference import STRATEGY_CTR
from segrec.rawio import write_raw_table

from .dbt_harness import PROJECT_ROOT, SAMPLE, SAMPLE_VARS, DbtProject

pytestmark = pytest.mark.dbt

# The activation nodes whose data tests `dbt test` runs (tests on their parents run elsewhere).
ACTIVATION_PATHS = [
    "models/intermediate/activation", "models/marts/marketing", "models/monitoring", "seeds/promotion_catalog.csv",
]
MONITORS = ("warn_quarantine_rate_spike", "warn_silhouette_drop", "warn_ndcg_drop")
# Without the recommender (slow to train): its NDCG history is planted in build_history instead.
VARS = SAMPLE_VARS
ALPHA = 0.05
# A previous build in build_history: it quarantined a third as much bot traffic (a spike now) and
# twice the duplicates (an improvement now), segmented better (silhouette + 0.2), and had a 1.5
# times higher NDCG for als (a drop now) but only 5% higher for hybrid (within tolerance).
PLANT_PREVIOUS_BUILD = """
    insert into build_history
    select
        'previous-build' as invocation_id,
        built_at - interval 1 day as built_at,
        metric,
        scope,
        case
            when scope = 'bot_traffic' then metric_value / 3
            when scope = 'duplicate_event' then metric_value * 2
            when metric = 'silhouette' then metric_value + 0.2
            when metric = 'ndcg@10' and scope = 'als' then metric_value * 1.5
            when metric = 'ndcg@10' then metric_value * 1.05
            else metric_value
        end as metric_value,
        n
    from build_history
"""
PLANT_NDCG = """
    insert into build_history
    select builds.invocation_id, builds.built_at, 'ndcg@10', planted.strategy, planted.ndcg, 500
    from (select distinct invocation_id, built_at from build_history) as builds
    cross join (values ('als', 0.2), ('hybrid', 0.3)) as planted (strategy, ndcg)
"""


def salted_sha256(value: str, salt: str) -> str:
    """What macro hash_pii computes: SHA-256 hex of salt || lower(trim(value))."""
    return hashlib.sha256((salt + value.strip().lower()).encode()).hexdigest()


def deleted_customer_ids(raw: Path) -> set[str]:
    requests = pd.read_parquet(raw / "privacy_requests.parquet")
    return set(requests.loc[requests["request_type"] == "delete", "customer_id"])


@pytest.fixture(scope="module")
def sample_build(sample_marts, tmp_path_factory) -> DbtProject:
    """The activation marts built on the committed sample (models and seeds; tests separately):
    a copy of the run's shared build (dbt_harness.SAMPLE_MARTS with VARS)."""
    return sample_marts.copy(tmp_path_factory.mktemp("activation"))


@pytest.fixture(scope="module")
def activation_tests(sample_build) -> dict[str, tuple[str, int]]:
    """``{test name: (status, failures)}`` of `dbt test` on the activation nodes, run once
    after planting the NDCG of this build and a previous build in build_history."""
    with duckdb.connect(str(sample_build.db_path)) as con:
        con.execute(PLANT_NDCG)
        con.execute(PLANT_PREVIOUS_BUILD)
    sample_build.run("test", "--select", *ACTIVATION_PATHS, vars=VARS)
    results = json.loads((sample_build.work_dir / "target" / "run_results.json").read_text())
    return {r["unique_id"].split(".")[2]: (r["status"], r["failures"]) for r in results["results"]}


def test_activation_data_tests_pass_on_the_sample(activation_tests):
    others = {name: outcome for name, outcome in activation_tests.items() if name not in MONITORS}
    assert len(others) > 40
    assert others == dict.fromkeys(others, ("pass", 0))


def test_monitoring_warns_on_a_quarantine_spike_and_silhouette_and_ndcg_drops(activation_tests):
    # one scope each (bot_traffic, kmeans, als); improvements and small changes pass
    assert {name: activation_tests[name] for name in MONITORS} == dict.fromkeys(MONITORS, ("warn", 1))


def test_known_effect_is_detected_and_the_aa_test_is_not(sample_build):
    truth = pd.read_parquet(SAMPLE / "_truth" / "experiments.parquet")
    results = sample_build.query("select * from experiment_results")
    controls = results.loc[results["is_control"], ["experiment_id", "variant"]].drop_duplicates()
    expected_controls = truth.loc[truth["is_control"], ["experiment_id", "variant"]]
    assert sorted(map(tuple, controls.to_numpy())) == sorted(map(tuple, expected_controls.to_numpy()))
    assert results["srm_ok"].all()

    # the generator raises the purchase conversion of treated visits by a known relative effect
    effect = truth.loc[truth["relative_effect"] > 0].iloc[0]
    row = results.set_index(["experiment_id", "metric", "variant"]).loc[
        (effect["experiment_id"], "session_conversion_rate", effect["variant"])
    ]
    assert row["is_significant"] and row["p_value"] < ALPHA
    assert 0 < row["ci_low"] <= effect["relative_effect"] <= row["ci_high"]

    treatments = results[~results["is_control"]]
    null_experiments = set(truth.groupby("experiment_id")["relative_effect"].max().loc[lambda s: s == 0].index)
    assert null_experiments == {"homepage_aa"}
    aa = treatments[treatments["experiment_id"].isin(null_experiments)]
    assert len(aa) == 5 and not aa["is_significant"].any()
    assert (aa["p_value"] >= ALPHA).all()


def test_exposed_customers_are_the_assigned_ones_without_deleted_customers(sample_build):
    assignments = pd.read_parquet(SAMPLE / "experiment_assignments.parquet")
    kept = assignments[~assignments["customer_id"].isin(deleted_customer_ids(SAMPLE))]
    expected = kept.drop_duplicates(["experiment_id", "customer_id"]).groupby(["experiment_id", "variant"]).size()
    exposed = sample_build.query(
        "select experiment_id, variant, n from experiment_results where metric = 'conversion_rate'"
    ).set_index(["experiment_id", "variant"])["n"]
    assert exposed.sort_index().to_dict() == expected.sort_index().to_dict()


def test_recommendation_feedback_recovers_the_strategies_click_through_rates(sample_build):
    feedback = sample_build.query("select * from recommendation_feedback")
    overall = feedback[feedback["segment_name"] == "all"].set_index("strategy").sort_index()
    by_segment = feedback[feedback["segment_name"] != "all"].groupby("strategy")[
        ["n_impressions", "n_clicks", "n_conversions", "n_click_conversions"]
    ].sum()
    pd.testing.assert_frame_equal(by_segment, overall[by_segment.columns], check_names=False)

    impressions = pd.read_parquet(SAMPLE / "recommendation_impressions.parquet")
    impressions = impressions[~impressions["customer_id"].isin(deleted_customer_ids(SAMPLE))]
    assert overall["n_impressions"].to_dict() == impressions.groupby("strategy").size().to_dict()
    assert overall["n_clicks"].to_dict() == impressions.groupby("strategy")["clicked_at"].count().to_dict()

    truth = pd.Series(STRATEGY_CTR).loc[overall.index]
    standard_error = np.sqrt(truth * (1 - truth) / overall["n_impressions"])
    assert ((overall["click_through_rate"] - truth).abs() < 3 * standard_error).all()
    assert overall["click_through_rate"].idxmax() == truth.idxmax() == "hybrid"
    assert overall["click_through_rate"].idxmin() == truth.idxmin() == "popularity"


def test_strategy_allocations_favour_the_planted_best_strategy(sample_build):
    allocations = sample_build.query("select * from strategy_allocations")
    feedback = sample_build.query("select * from recommendation_feedback")
    # the same impressions and clicks as the feedback mart, per segment (no layout experiment named)
    assert set(allocations["layout_variant"]) == {"none"}
    merged = allocations.merge(feedback, on=["strategy", "segment_name"], suffixes=("", "_feedback"))
    assert len(merged) == len(allocations) == len(feedback)
    assert (merged["n_impressions"] == merged["n_impressions_feedback"]).all()
    assert (merged["n_rewards"] == merged["n_clicks"]).all()
    shares = allocations.groupby("segment_name")["traffic_share"].agg(["sum", "min"])
    assert np.allclose(shares["sum"], 1.0) and (shares["min"] >= 0.05 - 1e-12).all()
    overall = allocations[allocations["segment_name"] == "all"].set_index("strategy")
    truth = pd.Series(STRATEGY_CTR)
    assert overall["traffic_share"].idxmax() == truth.idxmax() == "hybrid"
    assert overall["traffic_share"].idxmin() == truth.idxmin() == "popularity"


def test_every_known_customer_draws_a_strategy_of_their_groups_allocation(sample_build):
    assignments = sample_build.query("select * from strategy_assignments")
    allocations = sample_build.query("select * from strategy_allocations")
    groups = sample_build.query("select * from int_experiment__allocation_groups")
    assert sorted(assignments["customer_key"]) == sorted(groups["customer_key"])  # one each, nobody lost
    drawn = assignments.merge(allocations, left_on=["allocation_segment", "layout_variant", "strategy"],
                              right_on=["segment_name", "layout_variant", "strategy"], suffixes=("", "_allocation"))
    assert len(drawn) == len(assignments)  # a strategy of the allocation drawn from, with its share
    np.testing.assert_allclose(drawn["traffic_share"], drawn["traffic_share_allocation"])
    own = set(allocations["segment_name"])
    assert (assignments["allocation_segment"] == assignments["segment_name"].where(
        assignments["segment_name"].isin(own), "all")).all()
    # the period holds the as-of moment of the evidence; the draw is the package's, ticket for ticket
    settings = yaml.safe_load((PROJECT_ROOT / "dbt_project.yml").read_text())["vars"]["strategy_allocation"]
    period = assignment_period(allocations["as_of"].max(), settings["period_days"])
    assert set(assignments["period_start"]) == {period}
    expected = assign_strategies(groups, allocations, period_start=period, random_state=settings["random_state"])
    pd.testing.assert_frame_equal(
        assignments.sort_values("customer_key").reset_index(drop=True)[["customer_key", "strategy"]],
        expected[["customer_key", "strategy"]])
    # over the ~2,000 customers each strategy gets about its traffic share (mean over customers of
    # its share in their allocation), and the planted best strategy the most
    offered = assignments[["customer_key", "allocation_segment", "layout_variant"]].merge(
        allocations, left_on=["allocation_segment", "layout_variant"], right_on=["segment_name", "layout_variant"])
    expected_share = offered.groupby("strategy")["traffic_share"].sum() / len(assignments)
    realized = assignments["strategy"].value_counts(normalize=True).reindex(expected_share.index, fill_value=0)
    assert (realized - expected_share).abs().max() < 0.04
    assert realized.idxmax() == "hybrid"


def test_audiences_hold_only_marketable_customers_under_salted_hashes(sample_build):
    audiences = sample_build.query(
        """
        select audiences.*, customers.customer_id, customers.can_market, profiles.email
        from marketing_audiences as audiences
        inner join dim_customers as customers using (customer_key)
        left join stg_raw__customers as profiles using (customer_id)
        """
    )
    assert len(audiences) > 0 and audiences["can_market"].all() and audiences["consent_checked"].all()
    requests = pd.read_parquet(SAMPLE / "privacy_requests.parquet")
    assert not audiences["customer_id"].isin(requests["customer_id"]).any()  # opted out or deleted

    salt = pii_salt()
    assert (audiences["hashed_customer_id"] == audiences["customer_id"].map(lambda v: salted_sha256(v, salt))).all()
    assert (audiences["hashed_email"] == audiences["email"].map(lambda v: salted_sha256(v, salt))).all()
    assert (audiences["hashed_with_demo_salt"] == (salt == DEMO_SALT)).all()
    ranks = audiences.groupby("customer_key")["audience_rank"].agg(["min", "max", "size"])
    assert (ranks["min"] == 1).all() and (ranks["max"] == ranks["size"]).all()

    # every audience holds exactly the marketable customers its catalog row selects
    members = sample_build.query(
        """
        select segments.customer_key, coalesce(segments.rule_segments, '') as rule_segments, profiles.archetype
        from customer_segments as segments
        inner join dim_customers as customers using (customer_key)
        left join segment_profiles as profiles using (run_id, segment_id)
        where segments.is_latest_run and customers.can_market
        """
    )
    catalog = pd.read_csv(PROJECT_ROOT / "seeds" / "promotion_catalog.csv")
    for entry in catalog.itertuples():
        if isinstance(entry.rule_segment, str):
            selected = members["rule_segments"].str.split(",").map(lambda s, r=entry.rule_segment: r in s)
        else:
            selected = members["archetype"] == entry.archetype
        expected = set(members.loc[selected, "customer_key"])
        assert set(audiences.loc[audiences["audience"] == entry.audience, "customer_key"]) == expected, entry.audience


def test_a_secret_salt_changes_every_hash_and_clears_the_demo_flag(sample_build, monkeypatch):
    # the compiled mart, on a connection the dbt plugin prepares as for a build with that salt
    compiled = sample_build.work_dir / "target" / "compiled" / "segrec" / "models" / "marts" / "marketing"
    secret = "test-secret-salt"
    monkeypatch.setenv("SEGREC_HASH_SALT", secret)
    with duckdb.connect(str(sample_build.db_path), read_only=True) as con:
        BasePlugin.create("segrec.dbt_plugin").configure_cursor(con)
        audiences = con.sql(
            f"""
            select audiences.hashed_customer_id, audiences.hashed_with_demo_salt, customers.customer_id
            from ({(compiled / "marketing_audiences.sql").read_text()}) as audiences
            inner join dim_customers as customers using (customer_key)
            """
        ).df()
    assert len(audiences) > 0 and not audiences["hashed_with_demo_salt"].any()
    assert (audiences["hashed_customer_id"] == audiences["customer_id"].map(lambda v: salted_sha256(v, secret))).all()
    built = set(sample_build.query("select hashed_customer_id from marketing_audiences")["hashed_customer_id"])
    assert built.isdisjoint(audiences["hashed_customer_id"])


# A hand-checked experiment: exp1 assigns c1, c2 to A and c3, c4 to B at 10:00; c4 then asks to be
# deleted. Only what happens from the assignment on counts: c1's 09:00 order and 09:30 click do not.
ASSIGNED_AT = "2026-01-01T10:00:00"


def _event(event_id: str, customer: str, time: str, event_type: str, **order: str) -> dict:
    return dict(event_id=event_id, event_time=f"2026-01-01T{time}", loaded_at="2026-01-02T00:00:00",
                event_type=event_type, customer_id=customer, device_type="desktop", **order)


def _purchase(event_id: str, customer: str, time: str, price: str) -> dict:
    return _event(event_id, customer, time, "purchase", order_id=f"o-{event_id}", product_id="p1",
                  quantity="1", unit_price=price, currency="USD")


TINY_RAW = {
    "events": pd.DataFrame([
        _event("e1", "c1", "08:55:00", "page_view"), _purchase("e2", "c1", "09:00:00", "50"),
        _event("e3", "c1", "10:55:00", "page_view"), _purchase("e4", "c1", "11:00:00", "10"),
        _event("e5", "c2", "10:30:00", "page_view"),
        _event("e6", "c3", "11:55:00", "page_view"), _purchase("e7", "c3", "12:00:00", "30"),
        _purchase("e8", "c3", "13:00:00", "40"),
        _event("e9", "c4", "10:40:00", "page_view"), _purchase("e10", "c4", "10:45:00", "99"),
    ]),
    "experiment_assignments": pd.DataFrame({
        "experiment_id": "exp1", "customer_id": ["c1", "c2", "c3", "c4"], "variant": ["A", "A", "B", "B"],
        "assigned_at": ASSIGNED_AT,
    }),
    "recommendation_impressions": pd.DataFrame({
        "customer_id": ["c1", "c2", "c2", "c3", "c4"], "product_id": "p1", "strategy": "als",
        "shown_at": ["2026-01-01T09:30:00", "2026-01-01T10:30:00", "2026-01-01T10:31:00",
                     "2026-01-01T11:56:00", "2026-01-01T10:41:00"],
        "clicked_at": ["2026-01-01T09:31:00", None, "2026-01-01T10:32:00", "2026-01-01T11:57:00",
                       "2026-01-01T10:42:00"],
    }),
    "privacy_requests": pd.DataFrame({"customer_id": ["c4"], "request_type": ["delete"],
                                      "requested_at": ["2026-01-01T20:00:00"]}),
}


@pytest.fixture(scope="module")
def tiny_experiment(tmp_path_factory) -> tuple[pd.Series, pd.DataFrame]:
    """Counts built from the events alone (the optional side tables absent), then
    experiment_results once the side tables arrived (same project: the next build)."""
    raw = tmp_path_factory.mktemp("tiny") / "raw"
    write_raw_table(TINY_RAW["events"], "events", raw)
    project = DbtProject(raw_dir=raw, work_dir=raw.parent)
    select = ["--select", "+experiment_results", "--exclude-resource-type", "test", "unit_test"]
    project.run("build", *select)
    counts = project.query(
        """
        select
            (select count(*) from experiment_results) as results,
            (select count(*) from int_privacy__recommendation_impressions) as impressions
        """
    ).iloc[0]
    for table, frame in TINY_RAW.items():
        write_raw_table(frame, table, raw)
    project.run("build", *select)
    return counts, project.query("select * from experiment_results")


def test_absent_side_tables_give_empty_activation_outputs(tiny_experiment):
    counts, _ = tiny_experiment
    assert counts.tolist() == [0, 0]


def test_experiment_counts_only_what_follows_assignment_and_drops_deleted_customers(tiny_experiment):
    _, results = tiny_experiment
    observed = {(row.metric, row.variant): (row.n, round(row.value, 6)) for row in results.itertuples()}
    assert observed == {
        ("conversion_rate", "A"): (2, 0.5),  # c1 ordered after assignment, c2 did not
        ("conversion_rate", "B"): (1, 1.0),  # c3; c4 is deleted
        ("session_conversion_rate", "A"): (2, 0.5),  # c1's 10:55 session and c2's
        ("session_conversion_rate", "B"): (2, 1.0),  # c3's orders are an hour apart: two sessions
        ("revenue_per_customer", "A"): (2, 5.0),
        ("revenue_per_customer", "B"): (1, 70.0),
        ("average_order_value", "A"): (1, 10.0),
        ("average_order_value", "B"): (2, 35.0),
        ("click_through_rate", "A"): (2, 0.5),  # c2's two impressions; c1's came before assignment
        ("click_through_rate", "B"): (1, 1.0),
    }
    treatment = results.set_index(["metric", "variant"]).loc[("conversion_rate", "B")]
    assert treatment["lift"] == pytest.approx(1.0) and treatment["test"] == "two_proportion_z"
