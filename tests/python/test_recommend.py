"""Recommenders: matrix building, baselines, ALS, business rules, the hybrid and its reasons."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from segrec.errors import SegrecError
from segrec.recommend import (
    ROW_STRATEGIES,
    ALSRecommender,
    HybridRecommender,
    build_interaction_matrix,
    interactions_from_events,
    prepare_data,
    purchased_pairs,
    repeat_purchase_categories,
)
from segrec.recommend._arrays import row_ranks, scale_rows, text_in, top_k_entries, top_k_rows
from segrec.recommend.baselines import (
    content_features,
    content_similarity,
    cooccurrence_similarity,
    popularity_scores,
    segment_popularity_scores,
    trending_scores,
)
from segrec.recommend.data import align_products, parse_rule_segments
from segrec.recommend.interactions import pair_matrix
from segrec.recommend.reasons import anchor_items, reason_texts
from segrec.recommend.rerank import context_index, context_scores, fit_context_lifts, policy_flags, select_top_n

FAST_ALS = {"factors": 8, "iterations": 8, "regularization": 0.01, "alpha": 10.0, "num_threads": 1}


def long_frame(rows: list[tuple[str, str, float]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["customer_key", "product_id", "weight"])


# ---------------------------------------------------------------------------- interactions
def test_matrix_uses_sorted_keys_sums_repeats_and_keeps_extra_keys():
    interactions = long_frame([("b", "p2", 1.0), ("a", "p1", 2.0), ("a", "p1", 0.5), ("a", "p3", 0.0)])
    matrix = build_interaction_matrix(interactions, customer_keys=["c"], product_ids=["p4"])
    assert list(matrix.customer_keys) == ["a", "b", "c"]
    assert list(matrix.product_ids) == ["p1", "p2", "p3", "p4"]
    np.testing.assert_array_equal(matrix.matrix.toarray(), [[2.5, 0, 0, 0], [0, 1, 0, 0], [0, 0, 0, 0]])
    assert matrix.matrix.nnz == 2  # the zero weight is not stored
    assert list(matrix.user_rows(["c", "zz", "a"])) == [2, -1, 0]


def test_matrix_is_the_same_from_arrow_and_from_pandas_and_keeps_python_keys():
    interactions = long_frame([("é", "p2", 1.0), ("b", "p10", 2.0), ("b", "p10", 0.5), ("Z", "p3", 1.0)])
    from_pandas = build_interaction_matrix(interactions, customer_keys=["a", "b"], product_ids=np.array(["p1"]))
    from_arrow = build_interaction_matrix(pa.Table.from_pandas(interactions), customer_keys=pd.Series(["a", "b"]),
                                          product_ids=["p1"])
    from_categories = build_interaction_matrix(interactions.astype({"customer_key": "category"}),
                                               customer_keys=pd.Categorical(["a", "b"]), product_ids=["p1"])
    for matrix in (from_pandas, from_arrow, from_categories):
        # Python's order of str (by code point: upper case first, "é" last), as Python objects
        assert list(matrix.customer_keys) == ["Z", "a", "b", "é"] and matrix.customer_keys.dtype == object
        assert list(matrix.product_ids) == ["p1", "p10", "p2", "p3"]
        np.testing.assert_array_equal(matrix.matrix.toarray(), [[0, 0, 0, 1], [0, 0, 0, 0], [0, 2.5, 0, 0],
                                                                 [0, 0, 1, 0]])
    numbers = build_interaction_matrix(pd.DataFrame({"customer_key": [10, 2], "product_id": [7, 7], "weight": [1, 1]}),
                                       customer_keys=np.array([5], dtype=np.int32))
    assert list(numbers.customer_keys) == [2, 5, 10] and type(numbers.customer_keys[0]) is int
    # purchases on those key maps: unknown keys are dropped
    bought = pair_matrix(pa.table({"customer_key": ["b", "x", "é"], "product_id": ["p3", "p3", "p9"]}), "purchases",
                         from_arrow.customer_keys, from_arrow.product_ids)
    np.testing.assert_array_equal(bought.toarray()[2], [0, 0, 0, 1])
    assert bought.nnz == 1


@pytest.mark.parametrize(
    "frame, extra, message",
    [
        (pd.DataFrame({"customer_key": ["a", 1], "product_id": ["p1", "p1"], "weight": [1.0, 1.0]}), [],
         "column customer_key holds keys of mixed types"),
        (long_frame([("a", "p1", 1.0)]), [1], "(customer_key): keys of mixed types"),
        (long_frame([("a", "p1", "x")]), [], "non-numeric"),
    ],
)
def test_keys_that_cannot_be_ordered_and_text_weights_raise_a_clear_error(frame, extra, message):
    with pytest.raises(SegrecError, match="interactions") as error:
        build_interaction_matrix(frame, customer_keys=extra)
    assert message in str(error.value)


@pytest.mark.parametrize(
    "frame, message",
    [
        (long_frame([("a", "p1", -1.0)]), "weight"),
        (long_frame([("a", "p1", float("nan"))]), "weight"),
        (pd.DataFrame({"customer_key": ["a"], "product_id": ["p1"]}), "missing column(s) weight"),
        (pa.table({"customer_key": ["a"], "product_id": ["p1"]}),
         "missing column(s) weight (has: customer_key, product_id)"),
        (long_frame([(None, "p1", 1.0)]), "customer_key"),
    ],
)
def test_bad_interactions_raise_a_clear_error(frame, message):
    with pytest.raises(SegrecError, match=r"interactions") as error:
        build_interaction_matrix(frame)
    assert message in str(error.value)


def test_interactions_from_events_weights_and_decays():
    now = pd.Timestamp("2024-03-10 12:00")
    events = pd.DataFrame(
        {
            "customer_key": ["c1", "c1", "c1", "c1", "c2"],
            "product_id": ["p1", "p1", None, "p2", "p2"],
            "event_type": ["purchase", "product_view", "purchase", "page_view", "add_to_cart"],
            "event_time": [now, now - pd.Timedelta(days=7), now, now, now - pd.Timedelta(days=14)],
        }
    )
    out = interactions_from_events(
        events, {"purchase": 3.0, "product_view": 1.0, "add_to_cart": 2.0}, half_life_days=7.0
    )
    # c1/p1: 3 * 1 + 1 * 0.5; c2/p2: 2 * 0.25. The page view and the order-level purchase do not count.
    assert out[["customer_key", "product_id"]].values.tolist() == [["c1", "p1"], ["c2", "p2"]]
    np.testing.assert_allclose(out["weight"], [3.5, 0.5])
    assert out["last_event_time"].tolist() == [now, now - pd.Timedelta(days=14)]
    assert purchased_pairs(events).values.tolist() == [["c1", "p1"]]


def test_prepare_data_aligns_side_tables_with_defaults():
    interactions = long_frame([("a", "p1", 1.0), ("a", "ghost", 1.0)])
    products = pd.DataFrame(
        {"product_id": ["p2", "p1"], "category_path": ["Women > Dresses > Maxi", None], "brand": [" X ", ""]}
    )
    customers = pd.DataFrame(
        {
            "customer_key": ["cold", "a"],
            "segment_name": ["Bargain Hunters", None],
            "rule_segments": ["High Value, browsers", None],
        }
    )
    data = prepare_data(interactions, products, customers, purchases=long_frame([("a", "p1", 1.0)]))
    assert list(data.interactions.customer_keys) == ["a", "cold"]
    assert list(data.interactions.product_ids) == ["ghost", "p1", "p2"]
    side = data.products.set_index("product_id")
    # A product with interactions but no catalog row is never recommended.
    assert side["is_active"].to_dict() == {"ghost": False, "p1": True, "p2": True}
    assert side.loc["p2", ["category", "subcategory", "leaf_category", "brand"]].tolist() == [
        "Women",
        "Dresses",
        "Maxi",
        "X",
    ]
    assert pd.isna(side.loc["p1", "brand"])
    assert data.customers["rule_segments"].tolist() == [(), ("browser", "high_value")]
    assert list(data.n_interacted) == [2, 0]
    assert data.purchased.toarray().tolist() == [[0, 1, 0], [0, 0, 0]]


def test_prepare_data_refuses_ambiguous_keys():
    interactions = long_frame([("a", "p1", 1.0)])
    with pytest.raises(SegrecError, match="products: product_id 'p1' appears more than once"):
        prepare_data(interactions, pd.DataFrame({"product_id": ["p1", "p1"]}))
    with pytest.raises(SegrecError, match="customer context: column customer_key has 1 null"):
        prepare_data(interactions, pd.DataFrame({"product_id": ["p1"]}), pd.DataFrame({"customer_key": [None]}))
    with pytest.raises(SegrecError, match="products: column margin"):
        align_products(pd.DataFrame({"product_id": ["p1"], "margin": [1.5]}), np.array(["p1"], dtype=object))


def test_rule_segments_parse_lists_and_text_alike():
    assert parse_rule_segments("Frequent Buyers, high-value") == ("frequent_buyer", "high_value")
    assert parse_rule_segments(["browsers"]) == ("browser",)
    assert parse_rule_segments(np.array(["Browsers", "high value"], dtype=object)) == ("browser", "high_value")
    assert parse_rule_segments(None) == ()


# ---------------------------------------------------------------------------- baselines
@pytest.fixture
def small_matrix():
    """a: p1 p2 / b: p1 p2 p3 / c: p3 (weights 1)."""
    rows = [
        ("a", "p1", 1.0),
        ("a", "p2", 1.0),
        ("b", "p1", 1.0),
        ("b", "p2", 1.0),
        ("b", "p3", 1.0),
        ("c", "p3", 1.0),
    ]
    return build_interaction_matrix(long_frame(rows))


def test_popularity_counts_distinct_customers(small_matrix):
    doubled = build_interaction_matrix(long_frame([("a", "p1", 5.0), ("b", "p1", 1.0), ("b", "p2", 1.0)]))
    np.testing.assert_array_equal(popularity_scores(doubled.binary()), [2, 1])
    np.testing.assert_array_equal(popularity_scores(small_matrix.binary()), [2, 2, 2])


def test_segment_popularity_exact_with_shrinkage(small_matrix):
    codes = np.array([0, 0, 1])  # a, b in segment 0; c in segment 1
    plain = segment_popularity_scores(small_matrix.binary(), codes, 2, prior_strength=0.0)
    np.testing.assert_allclose(plain, [[1, 1, 0.5], [0, 0, 1], [2 / 3, 2 / 3, 2 / 3]])
    shrunk = segment_popularity_scores(small_matrix.binary(), codes, 2, prior_strength=1.0)
    # segment 1: (count + 1 * global) / (1 + 1)
    np.testing.assert_allclose(shrunk[1], [(0 + 2 / 3) / 2, (0 + 2 / 3) / 2, (1 + 2 / 3) / 2])


def test_cooccurrence_cosine_exact(small_matrix):
    similarity = cooccurrence_similarity(small_matrix.binary(), k=5).toarray()
    # |U1 & U2| = 2 of sizes 2, 2 -> 1; p1 or p2 with p3 share only b -> 1 / 2; no self-similarity.
    np.testing.assert_allclose(similarity, [[0, 1, 0.5], [1, 0, 0.5], [0.5, 0.5, 0]])
    top1 = cooccurrence_similarity(small_matrix.binary(), k=1).toarray()
    np.testing.assert_allclose(top1, [[0, 1, 0], [1, 0, 0], [0.5, 0, 0]])  # ties go to the lower index


def test_content_similarity_exact():
    products = align_products(
        pd.DataFrame(
            {
                "product_id": ["a", "b", "c"],
                "category_path": ["Women > Dresses", "Women > Tops", None],
                "brand": ["X", "X", None],
                "color": ["red", "red", None],
                "price_band": ["mid", "mid", None],
            }
        ),
        np.array(["a", "b", "c"], dtype=object),
    )
    features = content_features(products)
    similarity = content_similarity(features, k=5).toarray()
    # tokens: Women 1, Women>x 1, brand 1, color .5, band .5 -> |v|^2 = 3.5; shared: 1 + 1 + .25 + .25
    assert similarity[0, 1] == pytest.approx(2.5 / 3.5)
    assert similarity[0, 2] == 0 and similarity[2].sum() == 0  # no side data, no similarity


def test_trending_counts_customers_in_two_windows():
    end = pd.Timestamp("2024-01-15")
    day = pd.Timedelta(days=1)
    rows = (
        [
            ("u1", "A", end),
            ("u1", "A", end - day),
            ("u2", "A", end),
            ("u3", "A", end),
            ("u4", "A", end - 8 * day),
        ]
        + [("u1", "B", end)]
        + [("u1", "C", end), ("u2", "C", end)]
        + [(f"v{i}", "C", end - 9 * day) for i in range(4)]
    )
    events = pd.DataFrame(rows, columns=["customer_key", "product_id", "event_time"])
    scores = trending_scores(events, np.array(["A", "B", "C", "D"], dtype=object), window_days=7, smoothing=1.0)
    # A: 3 customers now, 1 before -> (3 + 1) / (1 + 1) - 1 = 1; B: one customer is no trend;
    # C is shrinking; D has no events.
    np.testing.assert_allclose(scores, [1.0, 0.0, 0.0, 0.0])


def test_top_k_rows_breaks_ties_by_lower_index_and_scale_rows_keeps_positive_part():
    cols, values = top_k_rows(np.array([[1.0, 3.0, 3.0, 2.0, 3.0]]), 2)
    assert cols.tolist() == [[1, 2]] and values.tolist() == [[3.0, 3.0]]
    np.testing.assert_allclose(
        scale_rows(np.array([[2.0, 4.0, -3.0, 0.0], [-1.0, -2.0, 0.0, 0.0]])), [[0.5, 1, 0, 0], [0, 0, 0, 0]]
    )


# ---------------------------------------------------------------------------- ALS
def planted_blocks(n_users: int = 120, n_items: int = 40, density: float = 0.3, seed: int = 7) -> pd.DataFrame:
    """Two user groups, each liking only its own half of the items."""
    rng = np.random.default_rng(seed)
    rows = []
    half = n_items // 2
    for user in range(n_users):
        group = user % 2
        liked = np.flatnonzero(rng.random(half) < density) + group * half
        rows += [(f"u{user:03d}", f"i{item:03d}", 1.0) for item in liked]
    return long_frame(rows)


@pytest.mark.parametrize("seed", [3, 4])
def test_als_recovers_planted_blocks(seed):
    matrix = build_interaction_matrix(planted_blocks())
    # as many factors as planted groups: every user's top unseen items come from its own block
    model = ALSRecommender(**(FAST_ALS | {"factors": 2}), random_state=seed).fit(matrix)
    scores = model.score(np.arange(matrix.n_users))
    scores[matrix.matrix.toarray() > 0] = -np.inf  # judge unseen items only
    top, _ = top_k_rows(scores, 5)
    group = np.array([int(key[1:]) % 2 for key in matrix.customer_keys])
    item_group = np.array([int(pid[1:]) >= 20 for pid in matrix.product_ids]).astype(int)
    assert (item_group[top] == group[:, None]).all()


def test_als_same_seed_same_factors_and_artifacts():
    matrix = build_interaction_matrix(planted_blocks(), customer_keys=["zz_cold"])
    first = ALSRecommender(**FAST_ALS, random_state=11).fit(matrix)
    again = ALSRecommender(**FAST_ALS, random_state=11).fit(matrix)
    other = ALSRecommender(**FAST_ALS, random_state=12).fit(matrix)
    np.testing.assert_array_equal(first.user_factors_, again.user_factors_)
    np.testing.assert_array_equal(first.item_factors_, again.item_factors_)
    assert not np.array_equal(first.item_factors_, other.item_factors_)
    users = first.user_factors_frame()
    assert list(users.columns) == ["customer_key"] + [f"factor_{i:02d}" for i in range(8)]
    assert users["customer_key"].tolist() == list(matrix.customer_keys)
    assert (users.set_index("customer_key").loc["zz_cold"] == 0).all()  # no evidence, no preference
    assert first.item_factors_frame().shape == (40, 9)


def test_als_on_an_empty_matrix_gives_zero_factors_and_refuses_bad_parameters():
    empty = build_interaction_matrix(long_frame([("a", "p1", 0.0), ("b", "p2", 0.0)]))
    model = ALSRecommender(factors=3).fit(empty)
    assert model.model_ is None  # nothing trained
    assert model.user_factors_.shape == (2, 3) and model.item_factors_.shape == (2, 3)
    assert not model.user_factors_.any() and not model.item_factors_.any()
    assert (model.score(np.arange(2)) == 0).all()
    with pytest.raises(SegrecError, match="ALS parameters out of range"):
        ALSRecommender(factors=0).fit(build_interaction_matrix(planted_blocks()))


# ---------------------------------------------------------------------------- rules
def test_select_top_n_caps_categories_and_pads_when_the_catalog_runs_out():
    scores = np.array([[9, 8, 7, 6, 5, 4], [1, 2, 3, 4, 5, 6]], dtype=float)
    eligible = np.array([[True, True, True, True, True, True], [True, False, False, False, False, True]])
    categories = np.array([0, 0, 0, 1, 1, -1])
    items, values = select_top_n(scores, eligible, categories, 4, max_per_category=2)
    assert items.tolist() == [[0, 1, 3, 4], [5, 0, -1, -1]]
    assert values[0].tolist() == [9, 8, 6, 5] and np.isnan(values[1, 2:]).all()
    unlimited, _ = select_top_n(scores, eligible, categories, 4, max_per_category=None)
    assert unlimited[0].tolist() == [0, 1, 2, 3]


def _walked_lists(scores, eligible, categories, n, cap):
    """The definition select_top_n implements, row by row: walk each row best first (ties: lower
    index), keep an item while its category is under the cap, then fill with the best left."""
    items = np.full((len(scores), n), -1)
    for r, row in enumerate(scores):
        ranking = [c for c in sorted(range(len(row)), key=lambda c: (-row[c], c)) if eligible[r, c]]
        seen: dict[int, int] = {}
        picked = []
        for c in ranking:
            if cap is None or categories[c] < 0 or seen.get(categories[c], 0) < cap:
                picked.append(c)
                seen[categories[c]] = seen.get(categories[c], 0) + 1
        picked = picked[:n]
        picked += [c for c in ranking if c not in picked][: n - len(picked)]
        picked.sort(key=lambda c: -row[c])  # stable: capped picks before fillers of equal score
        items[r, : len(picked)] = picked
    return items


@pytest.mark.parametrize("seed", range(4))
def test_select_top_n_and_top_k_rows_match_the_row_by_row_definition_with_ties(seed):
    rng = np.random.default_rng(seed)
    scores = rng.integers(0, 4, (12, 30)).astype(np.float32)  # many ties at every cut
    eligible = rng.random((12, 30)) < 0.8
    # mixed categories; one category for most items (the best CAP_PREFIX x n items of a row seldom
    # hold n allowed ones); one category for all (the cap allows fewer than n: allowed items and
    # fillers); and one more category of a single item (when it ranks past the prefix, only the
    # whole row tells that it is allowed)
    lone = np.zeros(30, dtype=np.int64)
    lone[rng.integers(0, 30)] = 1
    for categories in (rng.integers(-1, 4, 30), np.where(rng.random(30) < 0.85, 0, rng.integers(-1, 4, 30)),
                       np.zeros(30, dtype=np.int64), lone):
        # n = 3: rows with more allowed items than n; n = 20: every row has fewer (the cap cannot fill);
        # n = 40: a list longer than the catalog (padded)
        for cap, n in itertools.product((None, 1, 2), (2, 3, 9, 20, 40)):
            items, _ = select_top_n(scores, eligible, categories, n, max_per_category=cap)
            assert items.tolist() == _walked_lists(scores, eligible, categories, n, cap).tolist()
    # a catalog wider than CAP_PREFIX x n with few categories, where the cap leaves every list short:
    # every row takes the per-category candidates (each category's best by successive maxima), with
    # ties, and rows so little eligible that a category has fewer finite items than the cap
    wide = rng.integers(0, 6, (12, 120)).astype(np.float32)
    wide_eligible = rng.random((12, 120)) < np.linspace(0.05, 0.95, 12)[:, None]
    few = np.where(rng.random(120) < 0.9, 0, rng.integers(-1, 3, 120))
    for categories, cap, n in itertools.product((few, rng.integers(0, 3, 120)), (1, 2), (5, 9)):
        items, _ = select_top_n(wide, wide_eligible, categories, n, max_per_category=cap)
        assert items.tolist() == _walked_lists(wide, wide_eligible, categories, n, cap).tolist()
    # as drawn, and mostly zeros (a co-occurrence row: top_k_rows selects from the other end)
    for matrix in (scores, np.where(rng.random((12, 30)) < 0.7, 0, scores)):
        columns, values = top_k_rows(matrix, 7)
        expected = [sorted(range(30), key=lambda c: (-row[c], c))[:7] for row in matrix]
        assert columns.tolist() == expected and values.tolist() == np.take_along_axis(matrix, columns, 1).tolist()


def test_text_in_is_isin_for_text_of_every_backing():
    members = ["p1", "p3"]
    expected = [True, False, True, False, False]
    values = ["p1", "p2", "p3", None, "P1"]
    for series in (pd.Series(values, dtype=object), pd.Series(values, dtype="string[pyarrow]"),
                   pd.Series(values, dtype=pd.ArrowDtype(pa.large_string()))):
        assert text_in(series, members).tolist() == expected
        assert text_in(series, pa.array(members)).tolist() == expected  # members reused as Arrow
        assert series.isin(members).fillna(False).astype(bool).tolist() == expected
    assert text_in(np.array(["p3", "x"], dtype=object), set(members)).tolist() == [True, False]
    assert text_in(pd.Series([], dtype=object), members).tolist() == []
    assert text_in(pd.Series(["p1"]), []).tolist() == [False]


def test_top_k_entries_by_hand():
    # row 0: 3 ties at 3.0 -> the two lower columns; row 1: a negative and a zero are never kept; row 2: none
    rows, cols, values = top_k_entries(
        np.array([0, 1, 0, 0, 1, 0, 1]), np.array([4, 0, 1, 2, 3, 3, 5]),
        np.array([3.0, -1.0, 3.0, 3.0, 2.0, 2.0, 0.0]), 2)
    assert (rows.tolist(), cols.tolist(), values.tolist()) == ([0, 0, 1], [1, 2, 3], [3.0, 3.0, 2.0])


@pytest.mark.parametrize("seed", range(3))
def test_top_k_entries_keep_what_top_k_rows_keeps_above_zero(seed):
    # the sparse selection of cooccurrence_similarity against the dense one it replaced: same
    # entries in the same order, with ties at every cut, zeros, negatives and shuffled input
    rng = np.random.default_rng(seed)
    dense = rng.integers(-1, 4, (15, 40)).astype(float) * (rng.random((15, 40)) < 0.6)
    row, col = np.nonzero(dense)
    shuffle = rng.permutation(len(row))
    for k in (1, 3, 7, 40):
        top_cols, top_values = top_k_rows(dense, k)
        keep = top_values > 0
        expected = (np.nonzero(keep)[0].tolist(), top_cols[keep].tolist(), top_values[keep].tolist())
        got = top_k_entries(row[shuffle], col[shuffle], dense[row, col][shuffle], k)
        assert tuple(a.tolist() for a in got) == expected


def test_row_ranks_are_positions_in_a_stable_descending_sort():
    rng = np.random.default_rng(0)
    scores = np.vstack([rng.random((3, 40)), rng.integers(0, 3, (3, 40))]).astype(np.float32)  # rows 3-5 tie
    rows, cols = rng.integers(0, 6, 100), rng.integers(0, 40, 100)
    position = np.argsort(np.argsort(-scores, axis=1, kind="stable"), axis=1) + 1
    assert row_ranks(scores, rows, cols).tolist() == position[rows, cols].tolist()


def test_repeat_purchase_categories_from_distinct_purchase_days():
    day1, day2 = pd.Timestamp("2024-01-01 10:00"), pd.Timestamp("2024-01-05 09:00")
    purchases = pd.DataFrame(
        [
            ("c1", "p1", day1),
            ("c1", "p1", day2),
            ("c2", "p1", day1),
            ("c1", "p2", day1),
            ("c1", "p2", day1 + pd.Timedelta(hours=1)),
        ],
        columns=["customer_key", "product_id", "event_time"],
    )
    products = pd.DataFrame({"product_id": ["p1", "p2"], "category": ["Coffee", "Sofas"]})
    table = repeat_purchase_categories(purchases, products, threshold=0.2, min_pairs=1)
    assert table.to_dict("list") == {
        "category": ["Coffee", "Sofas"],
        "n_pairs": [2, 1],
        "n_repeat_pairs": [1, 0],  # two lines on one day are one purchase occasion
        "repurchase_rate": [0.5, 0.0],
        "is_repeat_purchase_category": [True, False],
    }
    strict = repeat_purchase_categories(purchases, products, threshold=0.2, min_pairs=3)
    assert not strict["is_repeat_purchase_category"].any()


def test_context_lift_exact_and_policy_flags():
    matrix = build_interaction_matrix(
        long_frame([("a", "p1", 1), ("b", "p1", 1), ("c", "p2", 1), ("d", "p2", 1), ("d", "p1", 1)])
    )
    customers = pd.DataFrame(
        {"usual_device": ["mobile", "mobile", "desktop", "desktop"], "usual_daypart": None, "region": None}
    )
    lifts = fit_context_lifts(matrix.binary(), customers, columns=["usual_device"], prior_strength=0.0)
    scores = context_scores(lifts, pd.DataFrame({"usual_device": ["mobile", None]}))
    # mobile: p1 share 1 vs 3/4 overall, p2 share 0 (log clipped to -1); unknown context: no change
    np.testing.assert_allclose(scores, [[math.log(4 / 3), -1.0], [0.0, 0.0]], rtol=1e-6)
    flags = policy_flags([("high_value",), ("frequent_buyer", "browser"), ()])
    assert {k: v.tolist() for k, v in flags.items()} == {
        "premium": [True, False, False],
        "complements": [False, True, False],
        "discovery": [False, True, False],
    }
    with pytest.raises(SegrecError, match="unknown policy"):
        policy_flags([()], {"high_value": "luxury"})


def test_context_index_scores_each_distinct_context_once_with_the_same_values():
    rng = np.random.default_rng(3)
    matrix = build_interaction_matrix(long_frame(
        [(f"c{u}", f"p{i}", 1) for u in range(40) for i in range(6) if rng.random() < 0.4]))
    customers = pd.DataFrame({
        "usual_device": rng.choice(["mobile", "desktop", None], 40),
        "usual_daypart": rng.choice(["morning", "evening", None], 40),
        "region": rng.choice(["north", "south"], 40),
    }).iloc[:matrix.n_users]
    lifts = fit_context_lifts(matrix.binary(), customers, prior_strength=2.0)
    table, rows = context_index(lifts, customers)
    distinct = len(customers.drop_duplicates())
    assert table.shape == (distinct, matrix.n_items) and rows.shape == (len(customers),)
    assert np.array_equal(table[rows], context_scores(lifts, customers))


def test_anchor_and_reason_texts():
    history = build_interaction_matrix(long_frame([("a", "p0", 1), ("a", "p1", 1), ("a", "p2", 1)])).matrix
    # table[recommended, past]; the diagonal (an item anchoring itself) is high on purpose
    table = np.array([[0.99, 0.0, -0.2, 0], [0.3, 0.95, 0.3, 0], [0.9, 0.1, 1.0, 0], [0.1, 0.8, 0.1, 0]])
    anchors = anchor_items(history, np.zeros(4, dtype=int), np.array([3, 2, 1, 0]), lambda a, b: table[a, b])
    # 3 -> best past item 1; 2 -> 0 (not itself); 1 -> tie of 0 and 2 goes to 0; 0 -> nothing positive
    assert anchors.tolist() == [1, 0, 0, -1]
    rows = pd.DataFrame(
        {
            "strategy": [
                "als",
                "cooccurrence",
                "segment_popularity",
                "new_arrival",
                "trending",
                "complement",
                "als",
            ],
            "anchor_name": ["Red Dress", "Blue Mug", None, None, None, "Kettle", None],
            "has_anchor": [True, True, False, False, False, True, False],
            "anchor_bought": [False, True, False, False, False, True, False],
            "already_bought": [False, False, False, False, False, False, True],
            "is_new": [False, False, False, True, False, False, False],
            "leaf_category": ["Dresses", "Mugs", None, "Dresses", None, None, None],
        }
    )
    assert reason_texts(rows).tolist() == [
        "Because you viewed Red Dress",
        "Because you bought Blue Mug",
        "Popular with customers like you",
        "New in Dresses",
        "Trending now",
        "Often bought with Kettle",
        "Buy it again",
    ]


# ---------------------------------------------------------------------------- hybrid
CATEGORIES = (
    "Women > Dresses",
    "Women > Tops",
    "Men > Shirts",
    "Home > Mugs",
    "Home > Candles",
    "Kids > Toys",
)


@pytest.fixture(scope="module")
def shop():
    """60 customers in two taste groups over 36 products in 4 top-level categories.

    Products 30-35 are new (no interactions), 6 and 7 are inactive, Home is repeat-purchase.
    Group A likes even products, group B odd ones; every third customer is high value, the
    others alternate browsers and frequent buyers. Two cold customers have only context.
    """
    n_items = 36
    products = pd.DataFrame(
        {
            "product_id": [f"p{i:02d}" for i in range(n_items)],
            "name": [f"Product {i}" for i in range(n_items)],
            "category_path": [CATEGORIES[i % len(CATEGORIES)] for i in range(n_items)],
            "brand": ["Acme" if i % 2 == 0 else "Bolt" for i in range(n_items)],
            "price_band": [("budget", "mid", "premium")[i % 3] for i in range(n_items)],
            "margin": [(i % 5) / 5 for i in range(n_items)],
            "is_new": [i >= 30 for i in range(n_items)],
            "is_active": [i not in (6, 7) for i in range(n_items)],
        }
    )
    products["is_repeat_purchase_category"] = products["category_path"].str.startswith("Home")
    rng = np.random.default_rng(5)
    rows, customers = [], []
    for user in range(60):
        group = user % 2
        liked = [i for i in range(30) if i % 2 == group and rng.random() < 0.45]
        rows += [(f"c{user:02d}", f"p{i:02d}", float(rng.integers(1, 4))) for i in liked]
        rules = "high_value" if user % 3 == 0 else ("browsers" if user % 3 == 1 else "frequent buyers")
        customers.append(
            (
                f"c{user:02d}",
                "Group A" if group == 0 else "Group B",
                rules,
                "mobile" if user % 4 < 2 else "desktop",
                "evening",
                "North",
            )
        )
    customers += [("new1", "Group A", "", "mobile", None, None), ("new2", None, None, None, None, None)]
    interactions = long_frame(rows)
    purchases = interactions.iloc[::2][["customer_key", "product_id"]]
    context = pd.DataFrame(
        customers,
        columns=["customer_key", "segment_name", "rule_segments", "usual_device", "usual_daypart", "region"],
    )
    return prepare_data(interactions, products, context, purchases)


@pytest.fixture(scope="module")
def hybrid(shop):
    return HybridRecommender(n=8, max_per_category=3, als_params=FAST_ALS, random_state=0).fit(shop)


def test_hybrid_lists_obey_every_business_rule(shop, hybrid):
    recs = hybrid.recommend()
    products = shop.products.set_index("product_id")
    bought = {
        (shop.interactions.customer_keys[r], shop.interactions.product_ids[c])
        for r, c in zip(*shop.purchased.nonzero(), strict=True)
    }
    assert recs.groupby("customer_key").size().eq(8).all()
    assert recs["customer_key"].nunique() == shop.interactions.n_users
    assert recs.groupby("customer_key")["rank"].apply(list).map(lambda r: r == list(range(1, 9))).all()
    assert products.loc[recs["product_id"], "is_active"].all()
    category = products.loc[recs["product_id"], "category"].to_numpy()
    assert recs.assign(category=category).groupby(["customer_key", "category"]).size().max() <= 3
    rebought = [pair for pair in zip(recs["customer_key"], recs["product_id"], strict=True) if pair in bought]
    assert rebought, "the fixture should exercise repeat purchases"
    assert all(products.loc[p, "is_repeat_purchase_category"] for _, p in rebought)
    assert (recs.groupby("customer_key")["score"].diff().dropna() <= 1e-12).all()
    assert recs["strategy"].isin(ROW_STRATEGIES).all()
    assert list(recs.columns) == [
        "customer_key",
        "rank",
        "product_id",
        "score",
        "strategy",
        "reason",
        "segment_name",
    ]


def test_cold_start_customers_get_full_lists_from_group_strategies(hybrid):
    recs = hybrid.recommend(["new1", "new2"])
    assert recs.groupby("customer_key").size().to_dict() == {"new1": 8, "new2": 8}
    assert set(recs["strategy"]) <= {"segment_popularity", "segment_content", "trending", "new_arrival"}
    assert "Popular with customers like you" in set(recs["reason"])
    assert recs.loc[recs["customer_key"] == "new1", "segment_name"].eq("Group A").all()


def test_group_a_cold_start_prefers_group_a_products(hybrid):
    recs = hybrid.recommend(["new1"], strategy="segment_popularity")
    assert all(int(p[1:]) % 2 == 0 for p in recs["product_id"])  # Group A liked even products


def test_new_products_reach_browsers_through_content(shop, hybrid):
    recs = hybrid.recommend()
    is_new = recs["product_id"].map(lambda p: int(p[1:]) >= 30)
    browsers = {
        k
        for k, rules in zip(shop.customers["customer_key"], shop.customers["rule_segments"], strict=True)
        if "browser" in rules
    }
    is_browser = recs["customer_key"].isin(browsers)
    print(
        f"new products per list: browsers {is_new[is_browser].sum() / is_browser.sum() * 8:.2f}, "
        f"others {is_new[~is_browser].sum() / (~is_browser).sum() * 8:.2f}"
    )
    assert is_new[is_browser].mean() > is_new[~is_browser].mean()
    new = recs[is_new]
    assert new["strategy"].isin(["content", "segment_content", "new_arrival"]).all()
    assert new["reason"].str.startswith("New in").any()
    content_only = hybrid.recommend(strategy="content")
    assert content_only["product_id"].map(lambda p: int(p[1:]) >= 30).any()


def test_history_reasons_name_a_product_the_customer_touched(shop, hybrid):
    recs = hybrid.recommend()
    personal = recs[recs["reason"].str.startswith("Because you")]
    assert len(personal) > 0
    touched = {
        (shop.interactions.customer_keys[r], f"Product {int(shop.interactions.product_ids[c][1:])}")
        for r, c in zip(*shop.interactions.matrix.nonzero(), strict=True)
    }
    names = personal["reason"].str.replace(r"^Because you (viewed|bought) ", "", regex=True)
    assert all(pair in touched for pair in zip(personal["customer_key"], names, strict=True))


def test_high_value_policy_leans_to_premium_and_margin(shop):
    def premium_share(policy_weight: float) -> float:
        model = HybridRecommender(n=8, policy_weight=policy_weight, als_params=FAST_ALS).fit(shop)
        high_value = [
            k
            for k, rules in zip(shop.customers["customer_key"], shop.customers["rule_segments"], strict=True)
            if "high_value" in rules
        ]
        recs = model.recommend(high_value)
        side = shop.products.set_index("product_id").loc[recs["product_id"]]
        return float(((side["price_band"] == "premium") * 0.5 + side["margin"] * 0.5).mean())

    assert premium_share(2.0) > premium_share(0.0)


def test_same_input_same_lists(shop, hybrid):
    again = HybridRecommender(n=8, max_per_category=3, als_params=FAST_ALS, random_state=0).fit(shop)
    pd.testing.assert_frame_equal(hybrid.recommend(), again.recommend())
    small_batches = HybridRecommender(n=8, max_per_category=3, als_params=FAST_ALS, batch_size=7).fit(shop)
    pd.testing.assert_frame_equal(hybrid.recommend(), small_batches.recommend())


def test_blocks_of_one_row_give_the_same_lists(shop, hybrid, monkeypatch):
    """Each batch is scored and selected a block of rows at a time (CELLS_PER_BLOCK): the lists,
    scores and strategy labels do not depend on where the blocks are cut."""
    whole = hybrid.recommend()
    for strategy in ("hybrid", "als"):
        monkeypatch.setattr("segrec.recommend._arrays.CELLS_PER_BLOCK", 10**9)
        one_block = hybrid.recommend(strategy=strategy)
        monkeypatch.setattr("segrec.recommend._arrays.CELLS_PER_BLOCK", 1)
        pd.testing.assert_frame_equal(one_block, hybrid.recommend(strategy=strategy))
    assert whole["strategy"].nunique() > 1


def test_every_strategy_alone_gives_lists(hybrid):
    for strategy in ("popularity", "segment_popularity", "trending", "cooccurrence", "content", "als"):
        recs = hybrid.recommend(["c00", "c01"], strategy=strategy)
        assert recs.groupby("customer_key").size().eq(8).all(), strategy
        assert recs["strategy"].eq(strategy).all()
    with pytest.raises(SegrecError, match="unknown strategy 'magic'"):
        hybrid.recommend(strategy="magic")
    with pytest.raises(SegrecError, match="1 customer_key"):
        hybrid.recommend(["c00", "stranger"])


def test_item_similarities_long_table(shop, hybrid):
    for method in ("cooccurrence", "content", "als"):
        table = hybrid.item_similarities(method, top_n=5)
        assert list(table.columns) == ["product_id", "similar_product_id", "score", "method"]
        assert table.groupby("product_id").size().max() <= 5
        assert (table["product_id"] != table["similar_product_id"]).all()
        assert (table["score"] > 0).all() and table["method"].eq(method).all()
        assert not table["similar_product_id"].isin(["p06", "p07"]).any()  # inactive
        assert (table.groupby("product_id")["score"].diff().dropna() <= 1e-12).all()
    content = hybrid.item_similarities("content", top_n=50)
    assert content["product_id"].isin(["p30", "p35"]).any()  # new products have content neighbours
    with pytest.raises(SegrecError, match="unknown similarity method"):
        hybrid.item_similarities("magic")


def test_factor_artifacts_are_keyed(shop, hybrid):
    assert hybrid.user_factors_frame()["customer_key"].tolist() == list(shop.interactions.customer_keys)
    assert hybrid.item_factors_frame()["product_id"].tolist() == list(shop.interactions.product_ids)
