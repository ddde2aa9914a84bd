"""Offline evaluation: metrics on hand-computed cases, implicit cross-check, split, grid search, real data."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from implicit.evaluation import ranking_metrics_at_k

from segrec.errors import SegrecError
from segrec.recommend import HybridRecommender, interactions_from_events, prepare_data, purchased_pairs
from segrec.recommend.evaluation import (
    GROUP_METRICS,
    METRIC_COLUMNS,
    METRICS,
    RATIO_METRIC,
    SERVED_STRATEGY,
    Catalog,
    catalog_coverage,
    customer_groups,
    describe_windows,
    evaluate_recommendations,
    evaluate_recommender,
    ground_truth,
    intra_list_diversity,
    js_divergence,
    normal_interval,
    novelty,
    paired_bootstrap_ratio,
    ranking_metrics,
    temporal_split,
)
from segrec.recommend.interactions import InteractionMatrix
from segrec.recommend.rerank import repeat_purchase_categories
from segrec.recommend.tuning import grid_search_als


def lists_frame(lists: dict[str, list[str]]) -> pd.DataFrame:
    rows = [(user, rank, item) for user, items in lists.items() for rank, item in enumerate(items, start=1)]
    return pd.DataFrame(rows, columns=["customer_key", "rank", "product_id"])


def truth_frame(pairs: dict[str, list[str]]) -> pd.DataFrame:
    return pd.DataFrame(
        [(u, i) for u, items in pairs.items() for i in items], columns=["customer_key", "product_id"]
    )


# u1 hits at positions 1 and 3 of its top 3; u2 misses; u3 has no list at all.
RECS = lists_frame({"u1": ["A", "C", "B", "D", "E"], "u2": ["D", "E", "A", "B", "C"]})
TRUTH = truth_frame({"u1": ["A", "B"], "u2": ["C"], "u3": ["E"]})
CATALOG = Catalog(
    product_ids=np.array(["A", "B", "C", "D", "E"], dtype=object),
    popularity=np.array([0.5, 0.25, 0.125, 1.0, 0.5]),
    features=sp.csr_matrix(np.array([[1, 0], [1, 0], [0, 1], [0, 1], [0.6, 0.8]])),
)

# The same catalog with categories and training histories: u1 used D and E, u2 used C; u3 has none.
CATEGORIZED = Catalog(
    product_ids=CATALOG.product_ids, popularity=CATALOG.popularity, features=CATALOG.features,
    categories=np.array(["x", "x", "y", "y", None], dtype=object),
    history=InteractionMatrix(sp.csr_matrix(np.array([[0, 0, 0, 1, 1], [0, 0, 1, 0, 0]], dtype=np.float32)),
                              np.array(["u1", "u2"], dtype=object), CATALOG.product_ids),
)


def test_ranking_metrics_hand_computed():
    got = ranking_metrics(RECS, TRUTH, k=3, n_items=5)
    ideal_two = 1 + 1 / math.log2(3)
    expected = pd.DataFrame(
        {
            "precision": [2 / 3, 0, 0],  # textbook hits / k
            "recall": [1.0, 0, 0],
            "map": [(1 / 1 + 2 / 3) / 2, 0, 0],
            "ndcg": [(1 + 1 / math.log2(4)) / ideal_two, 0, 0],
            "hit_rate": [1.0, 0, 0],
            # u1: miss C has 1 hit above; 2 unlisted negatives each above-counted (2 + 2) / 2 -> 5 / (2 * 3)
            # u2: 3 listed misses with no hit above; 1 unlisted negative at (0 + 1) / 2 -> 0.5 / 4
            # u3: nothing listed: every pair a tie -> 0.5
            "auc": [5 / 6, 0.125, 0.5],
        },
        index=pd.Index(["u1", "u2", "u3"], name="customer_key"),
    )
    pd.testing.assert_frame_equal(got, expected, check_index_type=False)


def test_precision_is_textbook_for_users_with_fewer_test_items_than_k():
    got = ranking_metrics(
        lists_frame({"u": ["A", "B", "C", "D", "E"]}), truth_frame({"u": ["A"]}), k=5, n_items=5
    )
    assert got.loc["u", "precision"] == pytest.approx(1 / 5)
    assert got.loc["u", "recall"] == 1 and got.loc["u", "map"] == 1 and got.loc["u", "ndcg"] == 1


def test_list_metrics_hand_computed():
    users = pd.Index(["u1", "u2", "u3"])
    assert catalog_coverage(RECS, users, k=3, n_items=10) == pytest.approx(5 / 10)
    assert catalog_coverage(RECS, users, k=1, n_items=10) == pytest.approx(2 / 10)
    # u1: A, C, B -> (1 + 3 + 2) / 3; u2: D, E, A -> (0 + 1 + 1) / 3; u3 has no list
    assert novelty(RECS, users, CATALOG, k=3).to_dict() == pytest.approx({"u1": 2.0, "u2": 2 / 3})
    # u1: pairs AC 0, AB 1, CB 0; u2: pairs DE .8, DA 0, EA .6
    diversity = intra_list_diversity(RECS, users, CATALOG, k=3)
    assert diversity.to_dict() == pytest.approx({"u1": 1 - 1 / 3, "u2": 1 - 1.4 / 3})
    assert intra_list_diversity(RECS, users, CATALOG, k=1).empty  # one item: nothing to compare


def test_bias_metrics_hand_computed():
    catalog = CATEGORIZED
    value = evaluate_recommendations({"pop": RECS}, TRUTH, catalog, ks=(3,)).set_index("metric")["value"]
    # exposure in the top 3s: A twice, B, C, D, E once -> sorted [1, 1, 1, 1, 2]: 4 / (5 * 6)
    assert value["exposure_gini"] == pytest.approx(4 / 30)
    # head by popularity D 1, A .5, E .5 (80% of 2.375 crossed at E); u1 lists A, C, B (2 in the tail), u2 D, E, A
    assert value["long_tail_share"] == pytest.approx((2 / 3 + 0) / 2)
    # u1: listed (.5 + .125 + .25) / 3 against own (1 + .5) / 2; u2: (1 + .5 + .5) / 3 against .125
    assert value["popularity_lift"] == pytest.approx((0.875 / 3 / 0.75 + 2 / 3 / 0.125) / 2)
    # u1: p = {y: 1}, q_y = .99 / 3 + .01; u2 (E has no category): p = {y: 1}, q_y = .99 / 2 + .01
    assert value["category_kl"] == pytest.approx((math.log(1 / 0.34) + math.log(1 / 0.505)) / 2)


def test_evaluate_recommendations_long_frame_per_group():
    groups = pd.DataFrame({"segment": ["Loyal", "Loyal"], "gender": ["f", None]}, index=["u1", "u2"])
    frame = evaluate_recommendations(
        {"pop": RECS, "none": RECS.iloc[:0]}, TRUTH, CATALOG, ks=(1, 3), groups=groups
    )  # u3 is in no group: 'unknown' in both dimensions
    assert list(frame.columns) == list(METRIC_COLUMNS)
    # strategies x ((all), (Loyal, unknown), (f, unknown)) x ks x metrics
    assert len(frame) == 2 * 5 * 2 * len(METRICS)
    value = frame.set_index(["strategy", "group_dimension", "group_name", "k", "metric"])
    assert value.loc[("pop", "all", "all", 3, "precision"), "value"] == pytest.approx(2 / 9)
    assert value.loc[("pop", "all", "all", 3, "precision"), "n_users"] == 3
    assert value.loc[("pop", "segment", "Loyal", 3, "recall"), "value"] == pytest.approx(0.5)
    assert value.loc[("pop", "segment", "unknown", 3, "auc"), "value"] == pytest.approx(0.5)
    assert value.loc[("pop", "gender", "unknown", 3, "ndcg"), "n_users"] == 2
    assert value.loc[("pop", "all", "all", 3, "diversity"), "n_users"] == 2
    assert value.loc[("pop", "segment", "Loyal", 1, "coverage"), "value"] == pytest.approx(2 / 5)
    assert value.loc[("none", "all", "all", 3, "ndcg"), "value"] == 0
    assert np.isnan(value.loc[("none", "all", "all", 3, "novelty"), "value"])
    # no categories in this catalog: no divergence to measure
    assert np.isnan(value.loc[("pop", "gender", "f", 3, "exposure_divergence"), "value"])


Z95 = 1.959963984540054  # the 97.5% normal quantile


def test_normal_interval_hand_computed():
    # 0, 1, 0, 1: mean .5, sample sd sqrt(1/3), standard error sqrt(1/3) / 2
    low, high = normal_interval(np.array([0.5]), np.array([math.sqrt(1 / 3)]), np.array([4]))
    half = Z95 * math.sqrt(1 / 3) / 2
    assert (low[0], high[0]) == pytest.approx((0.5 - half, 0.5 + half), abs=1e-15)
    assert high[0] - low[0] == pytest.approx(1.1316, abs=1e-4)
    # one user has no spread to measure: no interval; equal values: zero width
    low, high = normal_interval(np.array([0.3, 0.3]), np.array([np.nan, 0.0]), np.array([1, 5]))
    assert np.isnan(low[0]) and np.isnan(high[0]) and (low[1], high[1]) == (0.3, 0.3)


def test_means_carry_their_normal_interval_over_users():
    frame = evaluate_recommendations({"pop": RECS}, TRUTH, CATALOG, ks=(3,)).set_index("metric")
    # NDCG@3 per user: u1 (1 + 1/2) / (1 + 1/log2 3), u2 0, u3 0
    u1 = 1.5 / (1 + 1 / math.log2(3))
    mean, sd = u1 / 3, math.sqrt(((u1 - u1 / 3) ** 2 + 2 * (u1 / 3) ** 2) / 2)
    row = frame.loc["ndcg"]
    assert row["value"] == pytest.approx(mean)
    assert (row["ci_low"], row["ci_high"]) == pytest.approx((mean - Z95 * sd / math.sqrt(3),
                                                            mean + Z95 * sd / math.sqrt(3)))
    # hit rate 1, 0, 0 over 3 users: mean 1/3, sd sqrt(1/3)
    assert frame.loc["hit_rate", "ci_high"] == pytest.approx(1 / 3 + Z95 * math.sqrt(1 / 3) / math.sqrt(3))
    # metrics of the group's lists as a whole have no interval
    assert frame.loc[list(GROUP_METRICS), ["ci_low", "ci_high"]].isna().all().all()


def test_bootstrap_of_equal_customers_is_the_point_estimate():
    # every customer alike: every resample has the same means, so the interval has no width
    served, baselines = np.full(7, 0.4), np.column_stack([np.full(7, 0.2), np.full(7, 0.1)])
    assert paired_bootstrap_ratio(served, baselines, n_resamples=50, random_state=3) == (2.0, 2.0, 2.0)


def test_bootstrap_of_a_list_against_itself_is_one():
    ndcg = np.random.default_rng(0).random(85)
    # a worse second baseline never wins: the ratio is 1 in every resample, however uneven the customers
    assert paired_bootstrap_ratio(ndcg, np.column_stack([ndcg, ndcg / 2]), n_resamples=200) == (1.0, 1.0, 1.0)


def test_bootstrap_quantiles_of_a_known_resampling_distribution():
    # two customers, served 1 and 0 against 0.5 each: a resample of both customers 0 gives 0 (1/4),
    # one of each 1 (1/2), both customers 1 gives 2 (1/4); the 2.5% and 97.5% quantiles are 0 and 2
    assert paired_bootstrap_ratio(np.array([1.0, 0.0]), np.array([[0.5], [0.5]]), random_state=1) == (1.0, 0.0, 2.0)
    # the better baseline is picked again in each resample: baselines (2, 0) and (0, 2) both mean 1,
    # but any resample of one customer twice has a best mean of 2 (ratio .5, half the resamples)
    got = paired_bootstrap_ratio(np.array([1.0, 1.0]), np.array([[2.0, 0.0], [0.0, 2.0]]), random_state=1)
    assert got == (1.0, 0.5, 1.0)


def test_bootstrap_is_reproducible_with_its_random_state():
    rng = np.random.default_rng(5)
    served, baselines = rng.random(85), rng.random((85, 2))
    first = paired_bootstrap_ratio(served, baselines, n_resamples=500, random_state=11)
    assert paired_bootstrap_ratio(served, baselines, n_resamples=500, random_state=11) == first
    other = paired_bootstrap_ratio(served, baselines, n_resamples=500, random_state=12)
    assert other[0] == first[0] and other[1:] != first[1:]
    assert first[1] < first[0] < first[2]
    # the point estimate is the ratio of the means to the better baseline
    assert first[0] == pytest.approx(served.mean() / baselines.mean(axis=0).max())


def test_bootstrap_without_a_positive_baseline_or_resamples():
    assert np.isnan(paired_bootstrap_ratio(np.ones(3), np.zeros((3, 1)))).all()
    assert np.isnan(paired_bootstrap_ratio(np.array([]), np.zeros((0, 2)))).all()
    with pytest.raises(SegrecError, match="n_resamples"):
        paired_bootstrap_ratio(np.ones(3), np.ones((3, 1)), n_resamples=0)


def test_served_ratio_row_per_k_with_its_bootstrap_interval():
    worse = lists_frame({"u1": ["C", "D", "E"], "u2": ["D", "E", "A"]})  # u1 misses: no hit at all
    lists = {SERVED_STRATEGY: RECS, "popularity": worse, "buy_again": RECS}
    frame = evaluate_recommendations(lists, TRUTH, CATALOG, ks=(1, 3), n_resamples=100)
    ratio = frame[frame["metric"] == RATIO_METRIC].set_index("k")
    assert list(ratio.index) == [1, 3] and set(ratio["strategy"]) == {SERVED_STRATEGY}
    assert (ratio["group_dimension"] == "all").all() and (ratio["n_users"] == 3).all()
    # the served list is buy_again's, the better baseline: 1 with no width
    assert ratio[["value", "ci_low", "ci_high"]].to_numpy().tolist() == [[1.0, 1.0, 1.0]] * 2
    # no served list (or no baseline): no ratio row
    assert RATIO_METRIC not in set(evaluate_recommendations({"popularity": RECS}, TRUTH, CATALOG, ks=(3,))["metric"])


def test_js_divergence_hand_computed():
    assert js_divergence(np.array([2.0, 0.0]), np.array([0.0, 5.0])) == pytest.approx(1.0)
    assert js_divergence(np.array([1.0, 3.0]), np.array([2.0, 6.0])) == pytest.approx(0.0)
    # p = (1, 0), q = (.5, .5), m = (.75, .25): .5 log2(1/.75) + .5 (.5 log2(.5/.75) + .5 log2(.5/.25))
    expected = 0.5 * math.log2(4 / 3) + 0.5 * (0.5 * math.log2(2 / 3) + 0.5)
    assert js_divergence(np.array([3.0, 0.0]), np.array([1.0, 1.0])) == pytest.approx(expected)
    assert np.isnan(js_divergence(np.zeros(2), np.array([1.0, 1.0])))


def js_by_hand(p: list[float], q: list[float]) -> float:
    m = [(a + b) / 2 for a, b in zip(p, q, strict=True)]
    kl = lambda x: sum(a * math.log2(a / c) for a, c in zip(x, m, strict=True) if a > 0)  # noqa: E731
    return 0.5 * kl(p) + 0.5 * kl(q)


def test_group_exposure_and_history_divergence():
    catalog = CATEGORIZED
    groups = pd.DataFrame({"gender": ["f", "m", "m"]}, index=["u1", "u2", "u3"])
    value = evaluate_recommendations({"pop": RECS}, TRUTH, catalog, ks=(3,), groups=groups).set_index(
        ["group_dimension", "group_name", "metric"])["value"]
    # top 3s: u1 A, C, B -> (x 2, y 1); u2 D, E, A -> (x 1, y 1) (E has no category); u3 none.
    # everyone (x 3, y 2)
    assert value[("gender", "f", "exposure_divergence")] == pytest.approx(js_by_hand([2 / 3, 1 / 3], [0.6, 0.4]))
    assert value[("gender", "m", "exposure_divergence")] == pytest.approx(js_by_hand([0.5, 0.5], [0.6, 0.4]))
    assert value[("all", "all", "exposure_divergence")] == pytest.approx(0.0)
    # histories are all y (D; C): no group differs in taste
    assert value[("gender", "f", "history_divergence")] == pytest.approx(0.0)
    assert value[("gender", "m", "history_divergence")] == pytest.approx(0.0)
    assert value[("gender", "m", "ndcg")] == pytest.approx(0.0)


def test_customer_groups_status_and_extra_dimensions():
    data = prepare_data(
        pd.DataFrame({"customer_key": ["a", "b"], "product_id": ["p", "q"], "weight": [1.0, 1.0]}),
        pd.DataFrame({"product_id": ["p", "q"]}),
        pd.DataFrame({"customer_key": ["a", "b", "c"], "segment_name": ["Loyal", None, "New"]}),
        purchases=pd.DataFrame({"customer_key": ["a"], "product_id": ["p"]}),
    )
    groups = customer_groups(data, pd.DataFrame({"age_band": ["25-34"]}, index=["c"]))
    assert groups.astype(object).where(groups.notna(), None).to_dict("index") == {
        "a": {"segment": "Loyal", "customer_status": "returning", "age_band": None},
        "b": {"segment": None, "customer_status": "new", "age_band": None},
        "c": {"segment": "New", "customer_status": "new", "age_band": "25-34"},
    }


# ---------------------------------------------------------------------------- implicit cross-check
def random_shop(seed: int = 0, n_users: int = 200, n_items: int = 60) -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    users = np.array([f"u{i:03d}" for i in range(n_users)], dtype=object)
    items = np.array([f"i{j:03d}" for j in range(n_items)], dtype=object)
    taste = rng.integers(0, 3, n_users)
    item_group = np.arange(n_items) % 3

    def draw(p_own: float, p_other: float) -> pd.DataFrame:
        p = np.where(item_group[None, :] == taste[:, None], p_own, p_other)
        u, i = np.nonzero(rng.random((n_users, n_items)) < p)
        return pd.DataFrame({"customer_key": users[u], "product_id": items[i], "weight": 1.0})

    return draw(0.25, 0.03), draw(0.12, 0.02)


@pytest.mark.parametrize("k", [5, 10])
def test_metrics_match_implicit_where_definitions_agree(k):
    train, test = random_shop()
    data = prepare_data(
        train,
        pd.DataFrame({"product_id": sorted(set(train["product_id"]) | set(test["product_id"]))}),
        purchases=train,
    )
    model = HybridRecommender(
        n=k,
        max_per_category=None,
        random_state=1,
        als_params={"factors": 8, "iterations": 6, "num_threads": 1},
    ).fit(data)
    truth = test[test["customer_key"].isin(data.interactions.customer_keys)][["customer_key", "product_id"]]
    # Already-bought items are filtered, as implicit's recommend does in its evaluation.
    recs = model.recommend(truth["customer_key"].unique(), strategy="als", n=k)
    ours = ranking_metrics(recs, truth, k=k, n_items=data.interactions.n_items)
    matrix = data.interactions
    test_matrix = sp.csr_matrix(
        (
            np.ones(len(truth)),
            (matrix.user_rows(truth["customer_key"]), matrix.item_columns(truth["product_id"])),
        ),
        shape=matrix.matrix.shape,
    )
    reference = ranking_metrics_at_k(
        model.als_.model_, matrix.matrix, test_matrix, K=k, show_progress=False, num_threads=1
    )
    assert ours["map"].mean() == pytest.approx(reference["map"], rel=1e-9)
    assert ours["ndcg"].mean() == pytest.approx(reference["ndcg"], rel=1e-9)
    assert ours["auc"].mean() == pytest.approx(reference["auc"], rel=1e-9)
    # implicit's precision: total hits / sum of min(k, |T_u|), not the textbook mean of hits / k
    n_truth = truth.groupby("customer_key").size().reindex(ours.index)
    micro = (ours["precision"] * k).sum() / np.minimum(k, n_truth).sum()
    assert micro == pytest.approx(reference["precision"], rel=1e-9)
    assert ours["precision"].mean() != pytest.approx(reference["precision"], rel=1e-3)


# ---------------------------------------------------------------------------- split and tuning
def test_temporal_split_on_midnight_boundaries():
    times = pd.to_datetime(
        ["2024-01-01 10:00", "2024-01-20 23:59", "2024-01-21 00:00", "2024-01-29 08:00", "2024-01-31 12:30"]
    )
    events = pd.DataFrame(
        {
            "customer_key": list("abcde"),
            "product_id": list("vwxyz"),
            "event_type": ["purchase", "product_view", "purchase", "purchase", "product_view"],
            "event_time": times,
        }
    )
    split = temporal_split(events, test_days=3, validation_days=7)
    assert split.test_start == pd.Timestamp("2024-01-28") and split.validation_start == pd.Timestamp(
        "2024-01-21"
    )
    assert split.train["customer_key"].tolist() == ["a", "b"]
    assert split.validation["customer_key"].tolist() == ["c"]
    assert split.test["customer_key"].tolist() == ["d", "e"]
    assert split.describe() == (
        "train before 2024-01-21, validation 2024-01-21..2024-01-28, "
        "test 2024-01-28..2024-01-31 (temporal hold-out)"
    )
    assert ground_truth(split.test, event_types=["purchase"]).values.tolist() == [["d", "y"]]
    with pytest.raises(SegrecError, match="event_time has 1 missing"):
        temporal_split(events.assign(event_time=[None, *times[1:]]), test_days=3)
    with pytest.raises(SegrecError, match="test_days"):
        temporal_split(events, test_days=0)


def test_grid_search_picks_the_best_combination_deterministically():
    train, validation = random_shop(seed=2)
    data = prepare_data(
        train, pd.DataFrame({"product_id": sorted(set(train["product_id"]))}), purchases=train
    )
    grid = {"factors": [2, 8], "regularization": [0.01], "iterations": [4]}
    best, table = grid_search_als(data, validation, grid=grid, k=10, max_per_category=None)
    assert table[["factors", "regularization", "iterations"]].values.tolist() == [[2, 0.01, 4], [8, 0.01, 4]]
    assert table["selected"].sum() == 1
    chosen = table[table["selected"]].iloc[0]
    assert chosen["value"] == table["value"].max()
    assert best == {"factors": int(chosen["factors"]), "iterations": 4, "regularization": 0.01}
    assert (
        table["n_users"]
        == validation["customer_key"]
        .isin(data.interactions.customer_keys)
        .groupby(validation["customer_key"])
        .any()
        .sum()
    ).all()
    _, again = grid_search_als(data, validation, grid=grid, k=10, max_per_category=None)
    pd.testing.assert_frame_equal(table, again)
    with pytest.raises(SegrecError, match="unknown ALS parameter"):
        grid_search_als(data, validation, grid={"learning_rate": [0.1]})


# ---------------------------------------------------------------------------- real data
@pytest.mark.real_data
def test_als_beats_popularity_on_uci_online_retail(datasets: Path):
    path = datasets / "uci_online_retail_full" / "online_retail.parquet"
    if not path.exists():
        pytest.skip(f"{path} not found")
    lines = pd.read_parquet(path, columns=["InvoiceNo", "StockCode", "Quantity", "InvoiceDate", "CustomerID"])
    code = lines["StockCode"].astype(str).str.extract(r"^(\d{5})")[0]
    keep = (
        lines["CustomerID"].notna()
        & ~lines["InvoiceNo"].astype(str).str.startswith("C")
        & (lines["Quantity"] > 0)
        & code.notna()
    )
    events = pd.DataFrame(
        {
            "customer_key": lines.loc[keep, "CustomerID"].astype("int64").astype(str),
            "product_id": code[keep],
            "event_type": "purchase",
            "event_time": pd.to_datetime(lines.loc[keep, "InvoiceDate"]),
        }
    )
    split = temporal_split(events, test_days=30)  # the last month, from 2011-11-09
    interactions = interactions_from_events(split.train, {"purchase": 1.0})
    products = pd.DataFrame(
        {"product_id": sorted(interactions["product_id"].unique()), "category": "giftware"}
    )
    # Wholesale customers re-order: let the data say whether bought items may come back.
    repeat = repeat_purchase_categories(split.train, products)
    products["is_repeat_purchase_category"] = bool(repeat["is_repeat_purchase_category"].iloc[0])
    data = prepare_data(interactions, products, purchases=purchased_pairs(split.train))
    truth = ground_truth(split.test)
    truth = truth[truth["customer_key"].isin(data.interactions.customer_keys)]
    model = HybridRecommender(
        max_per_category=None,
        random_state=0,
        als_params={"factors": 32, "iterations": 15, "regularization": 0.01, "alpha": 1.0},
    )
    metrics = evaluate_recommender(
        model.fit(data), truth, strategies=("als", "popularity", "hybrid"), ks=(10, 20), by_group=False
    )
    table = metrics.pivot_table(index=["strategy", "k"], columns="metric", values="value")
    print(
        f"\nUCI Online Retail, {split.describe()}, {data.interactions.n_users} train customers, "
        f"{data.interactions.n_items} products, {truth['customer_key'].nunique()} test customers, "
        f"repeat-purchase rate {repeat['repurchase_rate'].iloc[0]:.3f}\n{table.round(4).to_string()}"
    )
    assert data.interactions.n_users == 4063 and truth["customer_key"].nunique() == 1395
    assert table.loc[("als", 10), "ndcg"] > 1.5 * table.loc[("popularity", 10), "ndcg"]
    assert table.loc[("hybrid", 10), "ndcg"] > 1.5 * table.loc[("popularity", 10), "ndcg"]
    assert table.loc[("als", 20), "recall"] > table.loc[("popularity", 20), "recall"]


def test_describe_windows_names_the_windows_and_the_split():
    days = [pd.Timestamp(d) for d in ("2026-03-01", "2026-03-15", "2026-03-29 10:00")]
    assert describe_windows(*days) == (
        "train before 2026-03-01, validation 2026-03-01..2026-03-15, test 2026-03-15..2026-03-29 (temporal hold-out)"
    )
    assert describe_windows(days[1], days[1], days[2], "last_event") == (
        "train before 2026-03-15, test 2026-03-15..2026-03-29 (temporal hold-out, next item: a customer's window "
        "events before their last hit are input, the last hit is the truth)"
    )
    with pytest.raises(SegrecError, match="unknown hold-out split 'leave_one_out'"):
        describe_windows(*days, "leave_one_out")
