"""Re-purchase-aware candidates and the learned ranker: hand-checked features on a toy history."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
import scipy.sparse as sp

from segrec.errors import SegrecError
from segrec.recommend import ranker as ranker_module
from segrec.recommend.candidates import (
    FEATURE_COLUMNS,
    NEVER_DAYS,
    SOURCE_COLUMNS,
    CandidateConfig,
    CandidateGenerator,
    CutoffRows,
    _max_similarity,
    _top_columns,
    _top_positive,
    candidate_pairs,
    cooccurrence_cosine,
    customer_stats,
    label_pairs,
    last_year_stats,
    own_pair_stats,
    product_stats,
    purchase_lines,
    window_truth,
)
from segrec.recommend.ranker import (
    OUTSIDE_SHORTLIST,
    CandidateRanker,
    best_first,
    negative_sample,
    ranked_lists,
    shortlist_mask,
)
from segrec.recommend.ranker_pipeline import (
    RANKER_LISTS_SCHEMA,
    RankerInputs,
    batch_customers,
    buy_again_lists,
    customer_batches,
    fit_rankers,
    fitted_rankers,
    holdout_cutoffs,
    holdout_moments,
    ranker_fits_table,
    ranker_lists,
    ranker_settings,
)
from segrec.schemas import plain_frame, stacked_tables

CUTOFF = pd.Timestamp("2024-03-01")
FAST = CandidateConfig(n_own=10, n_als=2, n_cooc=2, n_popular=1, n_trending=0,
                       als={"factors": 2, "regularization": 0.1, "alpha": 5.0, "iterations": 3})


def toy_history() -> pd.DataFrame:
    """Three customers before 2024-03-01 (a leap year: Feb has 29 days).

    c1 buys A on Jan 1 (two lines), Jan 11 and Feb 10, and B on Feb 10;
    c2 buys A on Feb 1 and Feb 21, and C on Feb 21;
    c3 buys B on 2023-03-10 (one year before the next month) and C on Feb 29.
    """
    rows = [
        ("c1", "A", "o1", "2024-01-01", 1, 2.0),
        ("c1", "A", "o1", "2024-01-01", 3, 2.0),
        ("c1", "A", "o2", "2024-01-11", 1, 2.0),
        ("c1", "A", "o3", "2024-02-10", 1, 2.0),
        ("c1", "B", "o3", "2024-02-10", 1, 2.0),
        ("c2", "A", "o4", "2024-02-01", 1, 2.0),
        ("c2", "A", "o5", "2024-02-21", 1, 2.0),
        ("c2", "C", "o5", "2024-02-21", 1, 2.0),
        ("c3", "B", "o6", "2023-03-10", 1, 2.0),
        ("c3", "C", "o7", "2024-02-29", 1, 2.0),
    ]
    frame = pd.DataFrame(rows, columns=["customer_key", "product_id", "order_id", "event_time", "quantity",
                                        "unit_price"])
    return frame.assign(event_time=pd.to_datetime(frame["event_time"]), quantity=frame["quantity"].astype(float))


def test_purchase_lines_keeps_known_customers_positive_purchases() -> None:
    events = pd.DataFrame({
        "event_type": ["purchase", "return", "purchase", "purchase", "purchase"],
        "customer_id": ["1", "1", None, "2", "2"],
        "product_id": ["A", "A", "A", None, "B"],
        "order_id": ["o1", "c1", "o2", "o3", "o4"],
        "event_time": ["2024-01-01T10:00:00"] * 5,
        "quantity": ["2", "2", "1", "1", "0"],
        "unit_price": ["1.5"] * 5,
    })
    lines = purchase_lines(events)
    assert lines[["customer_key", "product_id", "quantity"]].values.tolist() == [["1", "A", 2.0]]


def test_window_truth_judges_only_customers_with_history() -> None:
    history = toy_history()
    later = pd.DataFrame({"customer_key": ["c1", "c1", "new"], "product_id": ["A", "A", "A"],
                          "order_id": ["o8", "o9", "o10"],
                          "event_time": pd.to_datetime(["2024-03-02", "2024-03-05", "2024-03-03"]),
                          "quantity": [1.0, 1.0, 1.0], "unit_price": [2.0, 2.0, 2.0]})
    truth = window_truth(pd.concat([history, later], ignore_index=True), CUTOFF)
    assert truth.values.tolist() == [["c1", "A"]]


def test_own_pair_stats_exact_values() -> None:
    stats = own_pair_stats(toy_history(), CUTOFF).set_index(["customer_key", "product_id"])
    c1a = stats.loc[("c1", "A")]
    assert c1a["own_lines"] == 4 and c1a["own_days"] == 3
    assert c1a["own_quantity_log"] == pytest.approx(np.log1p(6.0))
    assert c1a["days_since_last_own"] == 20 and c1a["days_since_first_own"] == 60
    assert c1a["own_gap_days"] == 20  # gaps 10 and 30
    assert c1a["own_days_30d"] == 1 and c1a["own_days_90d"] == 3
    assert c1a["own_last3_days"] == 3 and stats.loc[("c1", "B"), "own_last3_days"] == 1
    assert stats.loc[("c2", "A"), "own_last5_days"] == 2
    c2a = stats.loc[("c2", "A")]
    assert c2a["days_since_last_own"] == 9 and c2a["own_gap_days"] == 20
    assert np.isnan(stats.loc[("c1", "B"), "own_gap_days"])  # a single purchase day
    assert stats.loc[("c3", "B"), "days_since_last_own"] == 357


def test_customer_and_product_stats_exact_values() -> None:
    customers = customer_stats(toy_history(), CUTOFF).set_index("customer_key")
    c1 = customers.loc["c1"]
    assert (c1["customer_orders"], c1["customer_days"], c1["customer_products"]) == (3, 3, 2)
    assert (c1["days_since_last_order"], c1["tenure_days"], c1["customer_gap_days"]) == (20, 60, 20)
    assert c1["price_mean"] == pytest.approx(np.log(2.0)) and c1["price_std"] == 0
    assert customers["customer_repeat_share"].to_dict() == {"c1": 0.5, "c2": 0.5, "c3": 0.0}
    products = product_stats(toy_history(), CUTOFF, windows=(7, 30)).set_index("product_id")
    assert products["pop_30d"].to_dict() == {"A": 2, "B": 1, "C": 2}
    assert products["pop_7d"].to_dict() == {"A": 0, "B": 0, "C": 1}
    assert products.loc["A", "product_gap_days"] == 20  # pooled gaps 10, 30 (c1) and 20 (c2)
    assert products["product_repeat_share"].to_dict() == {"A": 1.0, "B": 0.0, "C": 0.0}
    assert products.loc["C", "trend"] == pytest.approx(3.0 / (2.0 / 3.0 + 1.0))
    assert products["product_age_days"].to_dict() == {"A": 60, "B": 357, "C": 9}


def test_last_year_stats_look_at_the_coming_window_a_year_ago() -> None:
    pairs, pop, active = last_year_stats(toy_history(), CUTOFF, horizon_days=30)
    assert pairs.values.tolist() == [["c3", "B", 1]]
    assert pop.values.tolist() == [["B", 1]] and active.values.tolist() == [["c3", 1]]


def test_cooccurrence_cosine_of_customer_sets() -> None:
    # customers x products (A, B, C): every pair of products shares one of two customers each
    binary = np.array([[1, 1, 0], [1, 0, 1], [0, 1, 1]], dtype=np.float32)
    import scipy.sparse as sp

    cosine = cooccurrence_cosine(sp.csr_matrix(binary))
    assert sp.issparse(cosine) and np.allclose(cosine.toarray(), [[0, 0.5, 0.5], [0.5, 0, 0.5], [0.5, 0.5, 0]])


def test_max_similarity_is_the_same_in_any_chunking(monkeypatch) -> None:
    import scipy.sparse as sp

    rng = np.random.default_rng(0)
    binary = sp.csr_matrix((rng.random((40, 25)) < 0.15).astype(np.float32))
    cosine = cooccurrence_cosine(binary)
    dense = cosine.toarray()
    rows, items = rng.integers(0, 40, 300), rng.integers(0, 25, 300)
    expected = [max((dense[o, i] for o in binary[r].indices), default=0.0) for r, i in zip(rows, items, strict=True)]
    for cells in (1, 60, 10_000):  # a customer per chunk, a few, all at once
        monkeypatch.setattr("segrec.recommend.candidates.DENSE_CELLS", cells)
        assert _max_similarity(binary, cosine, rows, items).tolist() == np.float32(expected).tolist()


def test_candidate_pairs_features_and_sources() -> None:
    pairs = candidate_pairs(toy_history(), CUTOFF, config=FAST, random_state=0)
    assert list(pairs.columns[2:7]) == ["src_own", "src_als", "src_cooc", "src_popular", "src_trending"]
    assert set(FEATURE_COLUMNS) <= set(pairs.columns)
    frame = pairs.set_index(["customer_key", "product_id"])
    # every customer gets all 3 products here: own ones, and the rest from ALS / co-occurrence
    assert len(frame) == 9
    c1a = frame.loc[("c1", "A")]
    assert c1a["is_own"] == 1 and c1a["src_own"] == 1
    assert c1a["due_own"] == 1.0 and c1a["due_product"] == 1.0 and c1a["due_customer"] == 1.0
    assert c1a["own_day_share"] == 1.0 and frame.loc[("c1", "B"), "own_day_share"] == pytest.approx(1 / 3)
    assert frame.loc[("c2", "A"), "due_own"] == pytest.approx(9 / 20)
    c1c = frame.loc[("c1", "C")]
    assert c1c["is_own"] == 0 and c1c["src_own"] == 0 and c1c["own_days"] == 0
    assert c1c["days_since_last_own"] == NEVER_DAYS and np.isnan(c1c["due_product"])
    assert c1c["cooc_score"] == pytest.approx(0.5) and c1c["cooc_max"] == pytest.approx(0.5)
    assert c1c["price_fit"] == 0.0
    assert frame.loc[("c3", "B"), "own_days_last_year"] == 1
    assert frame.loc[("c1", "B"), "pop_last_year"] == 1 and frame.loc[("c3", "A"), "customer_active_last_year"] == 1
    assert sorted(frame["als_rank"].groupby(level=0).apply(sorted).iloc[0]) == [1, 2, 3]
    truth = pd.DataFrame({"customer_key": ["c1", "c3"], "product_id": ["C", "B"]})
    labels = label_pairs(pairs, truth)
    assert labels.sum() == 2 and frame.index[labels == 1].tolist() == [("c1", "C"), ("c3", "B")]


def test_candidate_pairs_only_for_chosen_customers_and_reproducible() -> None:
    first = candidate_pairs(toy_history(), CUTOFF, customers=["c2", "unknown"], config=FAST, random_state=3)
    again = candidate_pairs(toy_history(), CUTOFF, customers=["c2", "unknown"], config=FAST, random_state=3)
    assert set(first["customer_key"]) == {"c2"}
    pd.testing.assert_frame_equal(first, again)
    with pytest.raises(SegrecError):
        candidate_pairs(toy_history(), pd.Timestamp("2000-01-01"), config=FAST)


def planted_pairs(n: int, random_state: int) -> tuple[pd.DataFrame, np.ndarray]:
    """Random pair features where the label follows a planted rule: a customer re-buys an own
    product bought on 3+ days that is due (due_own >= 1); nothing else is bought."""
    rng = np.random.default_rng(random_state)
    frame = pd.DataFrame(rng.random((n, len(FEATURE_COLUMNS))), columns=list(FEATURE_COLUMNS))
    frame["own_days"] = rng.integers(0, 6, n).astype(float)
    frame["is_own"] = (frame["own_days"] > 0).astype(float)
    frame["due_own"] = rng.uniform(0, 2, n)
    frame.insert(0, "customer_key", [f"c{i // 10}" for i in range(n)])
    frame.insert(1, "product_id", [f"p{i % 10}" for i in range(n)])
    labels = ((frame["own_days"] >= 3) & (frame["due_own"] >= 1)).to_numpy(dtype=int)
    return frame, labels


@pytest.mark.parametrize("model", ["hgb", "logistic", "ensemble"])
def test_ranker_recovers_a_planted_rule(model: str, monkeypatch) -> None:
    train, y_train = planted_pairs(4000, random_state=0)
    test, y_test = planted_pairs(2000, random_state=1)
    ranker = CandidateRanker(model=model, max_iter=50, random_state=0).fit(train, y_train)
    scores = ranker.predict(test)
    positives, negatives = scores[y_test == 1], scores[y_test == 0]
    auc = (positives[:, None] > negatives[None, :]).mean()
    assert auc > (0.95 if model == "logistic" else 0.99)
    if model != "logistic":  # the rule itself: "bought" exactly where it holds, but a pair in 500
        # (in 200 for the ensemble: its linear member also weighs the noise features)
        threshold = 0.0 if model == "ensemble" else 0.5  # log-odds 0 = probability 1/2
        assert ((scores > threshold) == (y_test == 1)).mean() >= (0.998 if model == "hgb" else 0.995)
    # scored a chunk of pairs at a time: chunks of 7 pairs give exactly the same scores
    monkeypatch.setattr(ranker_module, "PREDICT_PAIRS", 7)
    np.testing.assert_array_equal(ranker.predict(test), scores)


def test_shortlist_mask_keeps_the_best_own_and_new_pairs_per_customer() -> None:
    pairs = pd.DataFrame({
        "customer_key": ["a", "a", "a", "a", "a", "b", "b"],
        "product_id": ["p1", "p2", "p3", "p4", "p5", "p1", "p2"],
        "is_own": [1.0, 1.0, 1.0, 0.0, 0.0, 0.0, 0.0],
    })
    scores = np.array([0.1, 0.9, 0.5, 0.2, 0.2, -1.0, 3.0])
    # a: own p2 > p3 > p1, new p4 = p5 (tie: smaller id); b: new p2 > p1
    assert shortlist_mask(pairs, scores, 2).tolist() == [False, True, True, True, True, True, True]
    assert shortlist_mask(pairs, scores, 1).tolist() == [False, True, False, True, False, False, True]
    with pytest.raises(SegrecError, match="shortlist"):
        shortlist_mask(pairs, scores, 0)


def test_ensemble_shortlist_scores_only_the_logistic_best_with_the_trees() -> None:
    train, y_train = planted_pairs(4000, random_state=0)
    test, _ = planted_pairs(2000, random_state=1)
    full = CandidateRanker(max_iter=50, random_state=0, shortlist=None).fit(train, y_train)
    short = CandidateRanker(max_iter=50, random_state=0, shortlist=3).fit(train, y_train)
    scores, short_scores = full.predict(test), short.predict(test)
    X = test[list(short.features)].to_numpy(dtype=float)[:, short.observed_]
    p = np.clip(short.estimators_[1].predict_proba(X)[:, 1], 1e-9, 1 - 1e-9)
    linear = np.log(p / (1 - p))
    chosen = shortlist_mask(test, linear, 3)
    assert 0 < chosen.sum() < len(test)
    np.testing.assert_allclose(short_scores[chosen], scores[chosen])  # the shortlist keeps the ensemble's score
    np.testing.assert_allclose(short_scores[~chosen], linear[~chosen] - OUTSIDE_SHORTLIST)  # the rest: after it
    assert short_scores[~chosen].max() < short_scores[chosen].min()


def test_ranker_rejects_single_class_and_unknown_model() -> None:
    train, _ = planted_pairs(100, random_state=0)
    with pytest.raises(SegrecError):
        CandidateRanker().fit(train, np.zeros(len(train), dtype=int))
    with pytest.raises(SegrecError):
        CandidateRanker(model="forest").fit(train, np.arange(len(train)) % 2)
    with pytest.raises(SegrecError):
        CandidateRanker().predict(train)


def test_ranked_lists_split_own_and_new() -> None:
    pairs = pd.DataFrame({"customer_key": ["c1"] * 4, "product_id": ["A", "B", "C", "D"],
                          "is_own": [1.0, 0.0, 1.0, 0.0]})
    lists = ranked_lists(pairs, np.array([0.2, 0.9, 0.5, 0.5]), k=2)
    got = {t: g.sort_values("rank")["product_id"].tolist() for t, g in lists.groupby("list_type")}
    assert got == {"blended": ["B", "C"], "buy_again": ["C", "A"], "discover": ["B", "D"]}
    assert set(lists.loc[lists["list_type"] == "buy_again", "reason"]) == {"bought before"}
    with pytest.raises(SegrecError):
        ranked_lists(pairs, np.zeros(4), list_types=["later"])


def test_candidate_pairs_take_the_hybrids_picks_also_for_customers_without_purchases() -> None:
    extra = pd.DataFrame({"customer_key": ["c1", "new"], "product_id": ["D", "A"],
                          "hybrid_score": [0.7, 0.4], "hybrid_rank": [1, 1]})
    pairs = candidate_pairs(toy_history(), CUTOFF, config=FAST, extra=extra, random_state=0)
    frame = pairs.set_index(["customer_key", "product_id"])
    c1d = frame.loc[("c1", "D")]  # a product nobody bought yet: only the hybrid proposes it
    assert c1d["src_hybrid"] == 1 and c1d["src_als"] == 0 and c1d["hybrid_score"] == 0.7
    assert np.isnan(c1d["als_score"]) and c1d["pop_30d"] != c1d["pop_30d"]  # NaN: unknown to purchases
    new = frame.loc[("new", "A")]  # a customer without purchases: product features, no customer ones
    assert new["is_own"] == 0 and new["pop_30d"] == 2 and np.isnan(new["customer_orders"])
    assert frame.loc[("c1", "A"), "hybrid_rank"] == NEVER_DAYS and frame.loc[("c1", "A"), "hybrid_score"] == 0
    only_hybrid = candidate_pairs(toy_history(), pd.Timestamp("2000-01-01"), config=FAST, extra=extra)
    assert set(only_hybrid["product_id"]) == {"D", "A"} and (only_hybrid["is_own"] == 0).all()


def test_ranked_lists_cap_categories_where_the_candidates_allow() -> None:
    pairs = pd.DataFrame({"customer_key": ["c1"] * 5, "product_id": ["A", "B", "C", "D", "E"],
                          "is_own": [0.0, 0.0, 0.0, 0.0, 1.0]})
    categories = pd.Series({"A": "toys", "B": "toys", "C": "toys", "D": "food", "E": None})
    lists = ranked_lists(pairs, np.array([0.9, 0.8, 0.7, 0.1, 0.5]), k=4, categories=categories,
                         max_per_category=2)
    got = {t: g.sort_values("rank")["product_id"].tolist() for t, g in lists.groupby("list_type")}
    # the third toy goes after the food and the uncategorised product; it fills the discover list
    assert got == {"blended": ["A", "B", "E", "D"], "discover": ["A", "B", "D", "C"], "buy_again": ["E"]}


def test_buy_again_baseline_most_purchase_days_first_ties_by_popularity() -> None:
    lists = buy_again_lists(toy_history(), CUTOFF, n=2)
    got = lists.groupby("customer_key")["product_id"].apply(list).to_dict()
    # c1: A on 3 days, B on 1; c2: A on 2 days, C on 1; c3: B and C once each, C bought by 2
    # customers in the last 30 days, B by 1
    assert got == {"c1": ["A", "B"], "c2": ["A", "C"], "c3": ["C", "B"]}
    assert lists["rank"].tolist() == [1, 2, 1, 2, 1, 2]


def _lists(**arguments) -> pd.DataFrame:
    """ranker_lists' batches as one plain pandas frame."""
    return plain_frame(stacked_tables(list(ranker_lists(**arguments)), RANKER_LISTS_SCHEMA))


def ranker_inputs() -> dict:
    """A shop where everybody re-buys what they bought before, over three 10-day windows."""
    rows = []
    for day in range(0, 60, 3):
        for c in range(12):
            product = f"P{c % 4}"  # each customer re-orders one product every 3 days
            rows.append((f"c{c}", product, f"o{day}-{c}", pd.Timestamp("2024-01-01") + pd.Timedelta(days=day + c % 3),
                         1.0, 2.0))
    purchases = pd.DataFrame(rows, columns=["customer_key", "product_id", "order_id", "event_time", "quantity",
                                            "unit_price"])
    windows = pd.Series({"validation_start": pd.Timestamp("2024-02-10"), "test_start": pd.Timestamp("2024-02-20"),
                         "as_of_time": pd.Timestamp("2024-03-01 12:00"), "train_1_start": pd.Timestamp("2024-01-31")})
    truth = []
    for cutoff, start, end in (("train_1", "2024-01-31", "2024-02-10"), ("validation", "2024-02-10", "2024-02-20"),
                               ("test", "2024-02-20", "2024-03-02")):
        inside = purchases[(purchases["event_time"] >= start) & (purchases["event_time"] < end)]
        truth.append(inside[["customer_key", "product_id"]].drop_duplicates().assign(cutoff=cutoff))
    products = pd.concat([
        pd.DataFrame({"cutoff": cutoff, "product_id": [f"P{i}" for i in range(6)], "is_active": True,
                      "category": "all", "is_repeat_purchase_category": False})
        for cutoff in ("train_1", "validation", "test", "latest")
    ])
    hybrid = pd.concat([  # the hybrid proposes two products nobody buys, to everybody and to "cold"
        pd.DataFrame({"cutoff": cutoff, "customer_key": customer, "product_id": ["P4", "P5"],
                      "hybrid_score": [0.9, 0.8], "hybrid_rank": [1, 2], "strategy": "segment_popularity",
                      "reason": "Popular with customers like you"})
        for cutoff in ("train_1", "validation", "test", "latest")
        for customer in [*(f"c{c}" for c in range(12)), "cold"]
    ])
    customers = pd.DataFrame({"customer_key": [*(f"c{c}" for c in range(12)), "cold"]})
    return {"purchases": purchases, "windows": windows, "hybrid": hybrid, "truth": pd.concat(truth),
            "products": products, "customers": customers}


def test_ranker_lists_learn_the_rebuys_and_serve_three_kinds() -> None:
    inputs = ranker_inputs()
    settings = {"n_als": 2, "n_cooc": 2, "n_popular": 2, "n_trending": 0, "max_negatives_per_positive": None}
    lists = _lists(**inputs, settings=settings, list_length=2, horizon_days=10, max_per_category=None)
    assert set(lists["cutoff"]) == {"test", "latest"} and set(lists["ranker_status"]) == {"trained"}
    served = lists[lists["cutoff"] == "latest"]
    top = served[(served["rank"] == 1)].set_index(["customer_key", "list_type"])["product_id"]
    for c in range(12):  # the own re-order beats the hybrid's unbought picks
        assert top[(f"c{c}", "blended")] == top[(f"c{c}", "buy_again")] == f"P{c % 4}"
    assert ("cold", "buy_again") not in top.index
    assert set(served.loc[(served["customer_key"] == "cold") & (served["list_type"] == "blended"), "product_id"]) == {
        "P4", "P5"}
    own = served[served["list_type"] == "buy_again"]
    assert (own["strategy"] == "buy_again").all() and own["reason"].str.startswith("Buy it again: you bought it").all()
    assert set(served.loc[served["customer_key"] == "cold", "reason"]) == {"Popular with customers like you"}
    assert len(lists[lists["cutoff"] == "test"].query("customer_key == 'c0' and list_type == 'blended'")) == 6
    again = _lists(**inputs, settings=settings, list_length=2, horizon_days=10)
    pd.testing.assert_frame_equal(lists, again)
    # one window to learn from is enough; none (no hit in any window before the test window):
    # the fallback order
    one = _lists(**inputs, settings=settings | {"train_windows": 1}, list_length=2, horizon_days=10)
    assert set(one["ranker_status"]) == {"trained"}
    assert not one["model_version"].isin(lists["model_version"]).any()  # another training, another version
    assert not one["data_version"].isin(lists["data_version"]).any()  # ... on other data
    # the data version is the training input alone: other settings on the same windows keep it
    weighted = _lists(**inputs, settings=settings | {"customer_weighting": True}, list_length=2, horizon_days=10)
    assert weighted.groupby("cutoff")["data_version"].first().equals(lists.groupby("cutoff")["data_version"].first())
    assert not weighted["model_version"].isin(lists["model_version"]).any()
    assert lists.groupby("cutoff")[["model_version", "data_version", "parameters"]].nunique().eq(1).all().all()
    assert json.loads(lists["parameters"].iloc[0]) == ranker_settings(settings)
    quiet = dict(inputs, truth=inputs["truth"][inputs["truth"]["cutoff"] == "test"])
    fallback = _lists(**quiet, settings=settings, list_length=2, horizon_days=10)
    assert set(fallback.groupby("cutoff")["ranker_status"].first().items()) == {("test", "fallback"),
                                                                               ("latest", "trained")}
    # the business rule: no re-buys outside repeat-purchase categories
    strict = _lists(**inputs, settings=settings | {"repurchase_rule": "repeat_categories"}, list_length=2,
                          horizon_days=10)
    assert "buy_again" not in set(strict["list_type"]) and (strict["strategy"] != "buy_again").all()
    with pytest.raises(SegrecError, match="repurchase_rule"):
        _lists(**inputs, settings={"repurchase_rule": "never"}, list_length=2, horizon_days=10)
    with pytest.raises(SegrecError, match="unknown key"):
        _lists(**inputs, settings={"n_owns": 3}, list_length=2, horizon_days=10)


def test_stored_rankers_give_the_lists_of_one_call_cutoff_by_cutoff() -> None:
    # the dbt split: int_recommendation__ranker_fits learns from the hold-out cutoffs' hybrid rows,
    # __ranker_holdout and __ranker_latest list one cutoff each from the stored (pickled) rankers
    inputs = ranker_inputs()
    settings = {"n_als": 2, "n_cooc": 2, "n_popular": 2, "n_trending": 0, "max_negatives_per_positive": 2.0}
    whole = _lists(**inputs, settings=settings, list_length=2, horizon_days=10)
    hybrid = inputs["hybrid"]
    holdout = hybrid[hybrid["cutoff"].isin(holdout_cutoffs(inputs["windows"]))]
    assert holdout_cutoffs(inputs["windows"]) == ["test", "train_1", "validation"]
    fits = fit_rankers(RankerInputs(**inputs | {"hybrid": holdout}), settings=settings, horizon_days=10)
    table = ranker_fits_table(fits)
    assert table.column("cutoff").to_pylist() == ["latest", "test"]
    assert table.column("ranker_status").to_pylist() == ["trained", "trained"]
    stored = fitted_rankers(pa.Table.from_pandas(table.to_pandas()))  # through a warehouse-like copy
    parts = []
    for cutoff in ("test", "latest"):
        own_cutoff = inputs | {"hybrid": hybrid[hybrid["cutoff"] == cutoff], "truth": None}
        parts.append(_lists(**own_cutoff, settings=settings, list_length=2, horizon_days=10, fits=stored,
                            served=[cutoff]))
    pd.testing.assert_frame_equal(pd.concat(parts, ignore_index=True), whole)
    # a window with nothing to learn from: stored as fallback without a ranker, listed in the fallback order
    quiet = inputs | {"hybrid": holdout, "truth": inputs["truth"][inputs["truth"]["cutoff"] == "test"]}
    fallback = ranker_fits_table(fit_rankers(RankerInputs(**quiet), settings=settings, horizon_days=10,
                                             served=["test"]))
    assert fallback.to_pylist()[0] | {"model_version": None, "data_version": None} == {
        "cutoff": "test", "ranker_status": "fallback", "model_version": None, "data_version": None, "ranker": None}
    assert fitted_rankers(fallback)["test"].model is None
    with pytest.raises(SegrecError, match="no fitted ranker for cutoff"):
        _lists(**inputs, settings=settings, list_length=2, horizon_days=10, fits=stored, served=["validation"])
    with pytest.raises(SegrecError, match="unknown served cutoff"):
        fit_rankers(RankerInputs(**inputs), settings=settings, horizon_days=10, served=["validation"])
    broken = table.set_column(4, "ranker", pa.array([None, None], type=pa.binary()))
    with pytest.raises(SegrecError, match="is trained but has no ranker"):
        fitted_rankers(broken)
    unreadable = table.set_column(4, "ranker", pa.array([b"not a pickle", None], type=pa.binary()))
    with pytest.raises(SegrecError, match="cannot be read .*rebuild int_recommendation__ranker_fits"):
        fitted_rankers(unreadable)


def test_ranker_lists_without_hybrid_candidates_come_from_the_purchase_sources() -> None:
    inputs = ranker_inputs()
    settings = {"n_als": 2, "n_cooc": 2, "n_popular": 2, "n_trending": 0, "max_negatives_per_positive": None}
    lists = _lists(**inputs | {"hybrid": inputs["hybrid"].iloc[:0]}, settings=settings, list_length=2,
                   horizon_days=10, max_per_category=None)
    served = lists[lists["cutoff"] == "latest"]
    assert "cold" not in set(served["customer_key"])  # nothing to propose without purchases or the hybrid
    assert not served["product_id"].isin(["P4", "P5"]).any()  # nobody bought them, only the hybrid proposed them
    top = served[served["rank"] == 1].set_index(["customer_key", "list_type"])["product_id"]
    assert all(top[(f"c{c}", "blended")] == f"P{c % 4}" for c in range(12))
    assert served["reason"].notna().all() and (served["strategy"] != "segment_popularity").all()


def test_ranker_lists_rerank_discover_and_blended_of_both_cutoffs() -> None:
    inputs = ranker_inputs()
    settings = {"n_als": 2, "n_cooc": 2, "n_popular": 2, "n_trending": 0, "max_negatives_per_positive": None}
    plain = _lists(**inputs, settings=settings, list_length=2, horizon_days=10)
    # weight 1: least popular first; the hybrid's P4 and P5 nobody buys head every re-ranked list
    tail = _lists(**inputs, settings=settings, list_length=2, horizon_days=10,
                        rerank={"method": "long_tail", "weight": 1.0})
    top = tail[tail["rank"] <= 2].groupby(["cutoff", "customer_key", "list_type"])["product_id"].agg(frozenset)
    reranked = top[top.index.get_level_values("list_type") != "buy_again"]
    assert set(reranked.index.get_level_values("cutoff")) == {"test", "latest"}
    assert set(reranked) == {frozenset({"P4", "P5"})}
    rebuys = [frame[frame["list_type"] == "buy_again"].drop(columns=["model_version", "parameters"])
              .reset_index(drop=True) for frame in (plain, tail)]
    pd.testing.assert_frame_equal(*rebuys)  # the same ranker learned from the same data
    assert not tail["model_version"].isin(plain["model_version"]).any()  # another control, another version
    assert json.loads(tail["parameters"].iloc[0])["rerank"] == {"method": "long_tail", "weight": 1.0, "pool": 50}
    assert "rerank" not in json.loads(plain["parameters"].iloc[0])
    with pytest.raises(SegrecError, match="recommendation_rerank.method"):
        _lists(**inputs, settings=settings, list_length=2, horizon_days=10, rerank={"method": "mmr"})


def test_holdout_moments_latest_first_then_the_training_windows() -> None:
    windows = pd.Series({"as_of_time": pd.Timestamp("2024-03-01 12:00"), "test_start": pd.Timestamp("2024-02-20"),
                         "validation_start": pd.Timestamp("2024-02-10"), "train_1_start": pd.Timestamp("2024-01-31"),
                         "train_2_start": pd.Timestamp("2024-01-21"), "holdout_split": "window"})
    moments = holdout_moments(windows)
    assert list(moments) == ["latest", "test", "validation", "train_1", "train_2"]
    assert moments["latest"] > pd.Timestamp("2024-03-01 12:00") > moments["test"]  # the as-of moment is past
    assert moments["train_2"] == pd.Timestamp("2024-01-21")


def test_ranker_lists_of_a_shop_without_purchases_follow_the_hybrid() -> None:
    inputs = ranker_inputs()
    inputs |= {"purchases": inputs["purchases"].iloc[0:0], "truth": inputs["truth"].iloc[0:0]}
    lists = _lists(**inputs, settings={}, list_length=2, horizon_days=10)
    assert set(lists["ranker_status"]) == {"fallback"} and set(lists["list_type"]) == {"blended", "discover"}
    served = lists[(lists["cutoff"] == "latest") & (lists["list_type"] == "blended")]
    orders = served.sort_values("rank").groupby("customer_key")["product_id"].apply(list)
    assert all(order == ["P4", "P5"] for order in orders) and len(orders) == 13  # the hybrid's order


def test_ranker_leaves_out_features_never_observed_in_training() -> None:
    train, y_train = planted_pairs(400, random_state=0)
    train["own_gap_days"] = np.nan  # a one-day shop: no re-order interval anywhere
    ranker = CandidateRanker(model="hgb", max_iter=20).fit(train, y_train)
    assert not ranker.observed_[list(FEATURE_COLUMNS).index("own_gap_days")] and ranker.observed_.sum() == len(
        FEATURE_COLUMNS) - 1
    test, _ = planted_pairs(50, random_state=1)
    assert ranker.predict(test).shape == (50,)
    empty = train.assign(**{column: np.nan for column in FEATURE_COLUMNS})
    with pytest.raises(SegrecError, match="no feature"):
        CandidateRanker().fit(empty, y_train)


def test_candidate_generator_gives_the_same_pairs_batch_by_batch() -> None:
    generator = CandidateGenerator(FAST, random_state=0).fit(toy_history(), CUTOFF)
    whole = generator.transform()
    batched = pd.concat([generator.transform(["c1"]), generator.transform(["c2", "c3"])], ignore_index=True)
    pd.testing.assert_frame_equal(whole, batched)
    pd.testing.assert_frame_equal(whole, candidate_pairs(toy_history(), CUTOFF, config=FAST, random_state=0))
    with pytest.raises(SegrecError, match="call fit"):
        CandidateGenerator(FAST).transform()


def test_features_of_some_candidates_are_those_rows_of_all_candidates_features() -> None:
    # the ranker's training asks for the features of the pairs its negative sampling keeps alone
    extra = pd.DataFrame({"customer_key": ["c1", "new"], "product_id": ["D", "A"], "hybrid_score": [0.7, 0.4],
                          "hybrid_rank": [1, 1], "hybrid_reason": ["r1", "r2"]})
    generator = CandidateGenerator(FAST, random_state=0).fit(toy_history(), CUTOFF)
    found = generator.candidates(extra=extra)
    whole = generator.features(found)
    pd.testing.assert_frame_equal(whole, generator.transform(extra=extra))
    assert list(found.pairs.columns) == ["customer_key", "product_id", *SOURCE_COLUMNS]
    np.testing.assert_array_equal(generator.owned(found.pairs), whole["is_own"] == 1)
    keep = np.zeros(len(found.pairs), dtype=bool)
    keep[[0, 4, len(keep) - 1]] = True  # an own pair, a discovery pair and the hybrid's new customer
    some = generator.features(found, keep)
    assert some["customer_key"].tolist() == ["c1", "c2", "new"]
    pd.testing.assert_frame_equal(some, whole[keep].reset_index(drop=True))
    assert list(generator.features(found, np.zeros(len(keep), dtype=bool)).columns) == list(whole.columns)


def test_cutoff_rows_slice_one_cutoffs_customer_range_whatever_the_input_order() -> None:
    """CutoffRows finds a cutoff's customer range by binary search in the table sorted by cutoff,
    customer_key: a sorted table is kept as it is, another is sorted once; dictionary text comes
    back as plain text."""
    rows = [("test", "c2", 1), ("latest", "c1", 2), ("test", "c1", 3), ("latest", "c3", 4), ("test", "c10", 5)]
    unsorted = pa.table({"cutoff": pa.array([r[0] for r in rows]).dictionary_encode(),
                         "customer_key": [r[1] for r in rows], "v": [r[2] for r in rows]})
    in_order = pa.table({"cutoff": ["latest", "latest", "test", "test", "test"],
                         "customer_key": ["c1", "c3", "c1", "c10", "c2"], "v": [2, 4, 3, 5, 1]})
    for table in (unsorted, in_order, unsorted.to_pandas()):
        found = CutoffRows(table)
        assert found.table_.column("v").to_pylist() == [2, 4, 3, 5, 1]
        # "c10" sorts between "c1" and "c2", as the customer batches (sorted str) do
        assert found.rows("test", "c1", "c10").to_dict("list") == {
            "cutoff": ["test", "test"], "customer_key": ["c1", "c10"], "v": [3, 5]}
        assert found.rows("latest", "c2", "c9")["v"].tolist() == [4]
        assert found.rows("validation", "c1", "c9").empty and list(found.rows("test", "d", "e").columns) == [
            "cutoff", "customer_key", "v"]
    with pytest.raises(SegrecError, match="missing column"):
        CutoffRows(pa.table({"cutoff": ["test"]}))


def test_customer_batches_are_sorted_key_ranges() -> None:
    assert [list(b) for b in customer_batches(["b", "a", 3, "a", "c"], 2)] == [["3", "a"], ["b", "c"]]
    with pytest.raises(SegrecError, match="batch_size"):
        customer_batches(["a"], 0)
    # 2,000 customers a batch, fewer against a large catalog (8M customer x product cells)
    assert [batch_customers(n) for n in (0, 1_904, 4_000, 19_047, 10_000_000)] == [2_000, 2_000, 2_000, 420, 1]


def test_ranker_lists_do_not_depend_on_the_batch_size_and_judge_the_evaluation_sample() -> None:
    inputs = ranker_inputs()
    settings = {"n_als": 2, "n_cooc": 2, "n_popular": 2, "n_trending": 0, "max_negatives_per_positive": None}
    whole = _lists(**inputs, settings=settings, list_length=2, horizon_days=10)
    one_by_one = _lists(**inputs, settings=settings, list_length=2, horizon_days=10, batch_size=1)
    keys = ["cutoff", "customer_key", "list_type", "rank", "product_id", "strategy", "reason", "model_version"]
    pd.testing.assert_frame_equal(whole[keys].sort_values(keys).reset_index(drop=True),
                                  one_by_one[keys].sort_values(keys).reset_index(drop=True))
    # with negatives subsampled too (one per positive): the kept pairs do not depend on the batches
    sampling = settings | {"max_negatives_per_positive": 1.0}
    whole = _lists(**inputs, settings=sampling, list_length=2, horizon_days=10)
    one_by_one = _lists(**inputs, settings=sampling, list_length=2, horizon_days=10, batch_size=1)
    pd.testing.assert_frame_equal(whole[keys + ["score"]].sort_values(keys).reset_index(drop=True),
                                  one_by_one[keys + ["score"]].sort_values(keys).reset_index(drop=True))
    # an evaluation sample: the rankers learn from its windows, the test lists are made for it
    # only, the served (latest) lists for everybody
    sample = inputs["customers"].assign(is_evaluated=inputs["customers"]["customer_key"].isin(["c1", "c2", "c5"]))
    sampled = _lists(**(inputs | {"customers": sample}), settings=settings, list_length=2, horizon_days=10)
    assert set(sampled.loc[sampled["cutoff"] == "test", "customer_key"]) == {"c1", "c2", "c5"}
    assert set(sampled.loc[sampled["cutoff"] == "latest", "customer_key"]) == set(sample["customer_key"])
    assert set(sampled["ranker_status"]) == {"trained"}


def test_top_columns_do_not_depend_on_the_row_blocks(monkeypatch) -> None:
    """_top_columns masks and selects a block of rows at a time: blocks of one row give the same
    columns as one block, ties (the repeated 0.5) to the lower column, excluded cells last."""
    scores = np.array([[0.5, 0.9, 0.5, 0.1], [0.2, 0.5, 0.5, 0.8], [0.0, 0.0, 0.0, 0.0]], dtype=np.float32)
    exclude = sp.csr_matrix(np.array([[0, 1, 0, 0], [0, 0, 0, 1], [1, 0, 0, 0]], dtype=np.float32))
    expected = np.array([[0, 2, 3], [1, 2, 0], [1, 2, 3]])
    for cells in (10**9, 1):
        monkeypatch.setattr("segrec.recommend._arrays.CELLS_PER_BLOCK", cells)
        np.testing.assert_array_equal(_top_columns(scores, 3, exclude), expected)


def test_best_first_orders_by_customer_then_score_then_product_id() -> None:
    customers = pd.Series(["b", "a", "b", "a", "a"])
    scores = np.array([1.0, 2.0, 1.0, np.nan, 2.0])
    products = pd.Series(["p2", "p9", "p1", "p0", "p3"])
    # a: the tie at 2.0 to the smaller id, the missing score last; then b, its tie by id
    assert best_first(customers, scores, products).tolist() == [4, 1, 3, 2, 0]
    assert best_first(customers, scores, products, within=np.array([1, 0, 0, 0, 1])).tolist() == [1, 3, 4, 2, 0]
    expected = pd.DataFrame({"c": customers, "s": scores, "p": products}).sort_values(
        ["c", "s", "p"], ascending=[True, False, True]).index.tolist()
    assert best_first(customers, scores, products).tolist() == expected


def test_top_positive_proposes_only_positive_unbought_scores() -> None:
    """The co-occurrence source: each row's n best positive scores outside its purchases, ties to
    the lower column; a row without a positive unbought score proposes nothing (no zero fillers),
    and a bought product never, even when the row has fewer than n others."""
    scores = np.array([[0.5, 0.9, 0.5, 0.1, 0.0], [0.0, 0.7, 0.0, 0.0, 0.0],
                       [0.3, 0.0, 0.3, 0.2, 0.0]], dtype=np.float32)
    bought = sp.csr_matrix(np.array([[0, 1, 0, 0, 0], [0, 1, 0, 0, 0], [0, 0, 0, 0, 1]], dtype=np.float32))
    rows, columns = _top_positive(scores, 2, bought)
    assert rows.tolist() == [0, 0, 2, 2] and columns.tolist() == [0, 2, 0, 2]
    rows, columns = _top_positive(scores, 5, bought)
    assert rows.tolist() == [0, 0, 0, 2, 2, 2] and columns.tolist() == [0, 2, 3, 0, 2, 3]


def test_negative_sample_keeps_every_positive_and_a_rate_of_each_customers_negatives() -> None:
    """Every positive stays; a customer without one keeps no negative; a customer keeps about
    k negatives per positive (all when it has fewer); the decision of a pair depends on the pair,
    the seed and the salt only, not on the pairs beside it."""
    n_products = 400
    customers = np.repeat(["a", "b", "c", "d"], n_products)
    pairs = pd.DataFrame({"customer_key": customers, "product_id": np.tile([f"p{i}" for i in range(n_products)], 4)})
    labels = np.zeros(len(pairs), dtype=np.int8)
    labels[:20] = 1  # a: 20 positives, 380 negatives
    labels[n_products:n_products + 200] = 1  # b: 200 positives, 200 negatives (fewer than 2 x 200)
    labels[2 * n_products] = 1  # c: 1 positive; d: none
    keep = negative_sample(pairs, labels, 2.0, random_state=0)
    assert keep[labels == 1].all()
    kept = pd.Series(keep & (labels == 0)).groupby(customers).sum()
    assert kept["b"] == 200 and kept["d"] == 0
    assert 25 <= kept["a"] <= 55 and kept["c"] <= 8  # about 40 and 2: Bernoulli draws at rate 40/380, 2/399
    # the same mask in any order and split, another with another seed or salt
    order = np.random.default_rng(1).permutation(len(pairs))
    shuffled = negative_sample(pairs.iloc[order], labels[order], 2.0, random_state=0)
    np.testing.assert_array_equal(shuffled, keep[order])
    split = np.concatenate([negative_sample(pairs.iloc[i:i + n_products], labels[i:i + n_products], 2.0, 0)
                            for i in range(0, len(pairs), n_products)])
    np.testing.assert_array_equal(split, keep)
    assert not np.array_equal(negative_sample(pairs, labels, 2.0, random_state=1), keep)
    assert not np.array_equal(negative_sample(pairs, labels, 2.0, random_state=0, salt="test"), keep)
    assert negative_sample(pairs, labels, None, random_state=0).all()


def test_logistic_member_transforms_pairs_as_scikit_learn_does() -> None:
    """The logistic member's own transform (ranker._linear_inputs) gives exactly scikit-learn's
    values: missing features imputed, indicators for those missing in training, a constant column."""
    rng = np.random.default_rng(3)
    X = rng.normal(0, 5, (300, 5))
    X[:, 4] = 2.0  # constant: scale 1
    X[rng.random(300) < 0.3, 1] = np.nan  # missing in training: imputed, with an indicator
    labels = (X[:, 0] + rng.normal(0, 1, 300) > 0).astype(int)
    linear = CandidateRanker(model="logistic")._estimator().fit(X, labels)
    new = rng.normal(0, 5, (50, 5))
    new[::3, 1] = np.nan
    new[::4, 2] = np.nan  # missing only now: imputed, no indicator (as scikit-learn)
    fast = ranker_module._linear_inputs(linear, new)
    assert fast.shape == (50, 6)
    assert np.array_equal(fast, linear[:-1].transform(new))
    with pytest.raises(ValueError, match="infinity"):  # refused as scikit-learn refuses it
        ranker_module._linear_inputs(linear, np.where(np.arange(5) == 0, np.inf, new))
