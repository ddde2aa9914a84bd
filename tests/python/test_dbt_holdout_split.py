"""The two hold-out splits of the recommendation evaluation on a hand-made shop, exactly:
'window' (a customer's hits in a window are the truth, their history before it the input) and
'last_event' (the session-based next-item protocol: the window events before the customer's last
hit are input too, the last hit is the truth). Also: a shop without a catalog feed recommends
the products of its events, and anonymous visitors are listed only when a var says so."""

from __future__ import annotations

import pandas as pd
import pytest

from segrec.rawio import write_raw_table

from .dbt_harness import DbtProject

# As-of 2026-03-30 10:10: the test window is 03-29 and 03-30 (one whole test day before the
# as-of day, and that day), the validation window 03-28.
EVENTS = [
    # event_id, time, customer, anonymous visitor, product
    ("e01", "2026-03-01 10:00:00", "A", None, "p1"),
    ("e02", "2026-03-01 10:01:00", "A", None, "p2"),
    ("e03", "2026-03-01 11:00:00", "B", None, "p2"),
    ("e04", "2026-03-01 11:01:00", "B", None, "p3"),
    ("e05", "2026-03-28 09:00:00", "B", None, "p1"),  # validation window
    ("e06", "2026-03-28 09:01:00", "B", None, "p2"),
    ("e07", "2026-03-30 10:00:00", "A", None, "p3"),  # test window
    ("e08", "2026-03-30 10:05:00", "A", None, "p4"),
    ("e09", "2026-03-30 10:10:00", "A", None, "p5"),
    ("e10", "2026-03-02 08:00:00", None, "visitor-1", "p1"),  # an anonymous visitor
]
# A half-life of a million days: weights count events (rounded below), the decay is tested elsewhere.
# One earlier window for the learned ranker: train_1 is 03-27, empty here.
VARS = {"recommendation_test_days": 1, "recommendation_validation_days": 1, "recommendation_half_life_days": 1e6,
        "recommendation_min_product_customers": 1, "recommendation_ranker": {"train_windows": 2}}
MODELS = ["+int_interactions__holdout", "+int_recommendation__holdout_truth", "+int_recommendation__customers",
          "+int_recommendation__products", "dim_customers"]


@pytest.fixture(scope="module")
def raw(tmp_path_factory):
    folder = tmp_path_factory.mktemp("holdout_split") / "raw"
    events = pd.DataFrame(EVENTS, columns=["event_id", "event_time", "customer_id", "anonymous_id", "product_id"])
    write_raw_table(events.assign(loaded_at="2026-03-31 00:00:00", event_type="product_view", device_type="desktop"),
                    "events", folder)
    return folder


def build(raw, tmp_path_factory, split: str, include_anonymous: bool) -> DbtProject:
    project = DbtProject(raw_dir=raw, work_dir=tmp_path_factory.mktemp(f"holdout_{split}"))
    # values are checked here; the models' data tests run in the other suites
    project.run("build", "--select", *MODELS, "--exclude-resource-type", "test", "unit_test", vars=VARS | {
        "recommendation_holdout_split": split, "recommendation_include_anonymous": include_anonymous})
    return project


def by_customer(project: DbtProject, sql: str) -> list[tuple]:
    """Rows of ``sql`` with the customer key replaced by the raw customer id (or visitor)."""
    keys = project.query("select customer_key, coalesce(customer_id, 'visitor') as who from dim_customers")
    frame = project.query(sql).merge(keys, on="customer_key").drop(columns="customer_key")
    columns = ["who", *[c for c in frame.columns if c != "who"]]
    return sorted(map(tuple, frame[columns].astype(str).to_numpy().tolist()))


@pytest.fixture(scope="module")
def window(raw, tmp_path_factory) -> DbtProject:
    return build(raw, tmp_path_factory, "window", include_anonymous=False)


@pytest.fixture(scope="module")
def last_event(raw, tmp_path_factory) -> DbtProject:
    return build(raw, tmp_path_factory, "last_event", include_anonymous=True)


TRUTH = "select cutoff, customer_key, product_id from int_recommendation__holdout_truth"
TRAINING = ("select cutoff, customer_key, product_id, round(weight, 3) as weight from int_interactions__holdout "
            "where cutoff in ('validation', 'test')")
RANKER_TRAINING = ("select cutoff, customer_key, product_id, round(weight, 3) as weight from int_interactions__holdout "
                   "where cutoff not in ('validation', 'test')")


@pytest.mark.dbt
def test_window_split_every_hit_of_the_window_is_truth(window):
    assert by_customer(window, TRUTH) == [
        ("A", "test", "p3"), ("A", "test", "p4"), ("A", "test", "p5"),
        ("B", "validation", "p1"), ("B", "validation", "p2"),
    ]
    assert by_customer(window, TRAINING) == [
        ("A", "test", "p1", "1.0"), ("A", "test", "p2", "1.0"),
        ("A", "validation", "p1", "1.0"), ("A", "validation", "p2", "1.0"),
        ("B", "test", "p1", "1.0"), ("B", "test", "p2", "2.0"), ("B", "test", "p3", "1.0"),
        ("B", "validation", "p2", "1.0"), ("B", "validation", "p3", "1.0"),
        ("visitor", "test", "p1", "1.0"), ("visitor", "validation", "p1", "1.0"),
    ]
    # the ranker's earlier window train_1 (03-27) learns from the events before it
    assert by_customer(window, RANKER_TRAINING) == [
        ("A", "train_1", "p1", "1.0"), ("A", "train_1", "p2", "1.0"),
        ("B", "train_1", "p2", "1.0"), ("B", "train_1", "p3", "1.0"), ("visitor", "train_1", "p1", "1.0"),
    ]
    windows = window.query(
        "select validation_start, train_1_start, ranker_train_start from int_recommendation__windows")
    assert windows.iloc[0].tolist() == [pd.Timestamp("2026-03-28"), pd.Timestamp("2026-03-27"),
                                        pd.Timestamp("2026-03-27")]


@pytest.mark.dbt
def test_last_event_split_the_window_so_far_is_input_and_the_last_hit_truth(last_event):
    assert by_customer(last_event, TRUTH) == [("A", "test", "p5"), ("B", "validation", "p2")]
    assert by_customer(last_event, TRAINING) == [
        ("A", "test", "p1", "1.0"), ("A", "test", "p2", "1.0"),
        ("A", "test", "p3", "1.0"), ("A", "test", "p4", "1.0"),  # the test window before A's last view
        ("A", "validation", "p1", "1.0"), ("A", "validation", "p2", "1.0"),
        ("B", "test", "p1", "1.0"), ("B", "test", "p2", "2.0"), ("B", "test", "p3", "1.0"),
        ("B", "validation", "p1", "1.0"),  # the validation window before B's last view
        ("B", "validation", "p2", "1.0"), ("B", "validation", "p3", "1.0"),
        ("visitor", "test", "p1", "1.0"), ("visitor", "validation", "p1", "1.0"),
    ]


ACTIVE = "select cutoff, product_id from int_recommendation__products where is_active order by cutoff, product_id"


@pytest.mark.dbt
def test_without_a_catalog_products_of_the_cutoffs_training_are_recommendable(window, last_event):
    # no products table: every product of the events may be shown, once it is in the past of the
    # cutoff; p4 and p5 first appear in the test window
    window_active = window.query(ACTIVE).values.tolist()
    assert window_active == [
        ["latest", "p1"], ["latest", "p2"], ["latest", "p3"], ["latest", "p4"], ["latest", "p5"],
        ["test", "p1"], ["test", "p2"], ["test", "p3"],
        ["train_1", "p1"], ["train_1", "p2"], ["train_1", "p3"],
        ["validation", "p1"], ["validation", "p2"], ["validation", "p3"],
    ]
    # next-item split: A's session so far (p3, p4) is input, so p4 exists for the test cutoff
    assert last_event.query(ACTIVE).values.tolist() == [*window_active[:8], ["test", "p4"], *window_active[8:]]


@pytest.mark.dbt
def test_anonymous_visitors_are_listed_only_when_asked(window, last_event):
    listed = "select customer_key from int_recommendation__customers"
    assert [who for (who,) in by_customer(window, listed)] == ["A", "B"]
    assert [who for (who,) in by_customer(last_event, listed)] == ["A", "B", "visitor"]
