"""The re-ranking control (segrec.recommend.bias_rerank) on inputs small enough to check by hand:
the popularity penalty's and Steck's greedy orders, the identity at weight 0, the var's checks,
and the lists of ranked_lists with the business rules applied after the re-rank."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from segrec.errors import SegrecError
from segrec.recommend.bias_rerank import (
    RerankSettings,
    calibrated_order,
    category_mix,
    long_tail_order,
    pool_scaled,
    rerank_candidates,
    rerank_settings,
)
from segrec.recommend.evaluation import CALIBRATION_SMOOTHING
from segrec.recommend.ranker import ranked_lists
from segrec.recommend.ranker_pipeline import ScoredBatch, batch_history, rows_by_cutoff
from segrec.results.rerank import cost, curve_chart, curve_rows, read_curves, rerank_section

NAN = np.nan


def test_pool_scaled_is_min_max_per_row_and_keeps_the_padding():
    scaled = pool_scaled(np.array([[3.0, 2.0, 1.0], [4.0, NAN, NAN], [5.0, 5.0, NAN]]))
    np.testing.assert_array_equal(scaled, [[1.0, 0.5, 0.0], [1.0, NAN, NAN], [1.0, 1.0, NAN]])


def test_long_tail_order_by_hand():
    scores, popularity = np.array([[3.0, 2.0, 1.0]]), np.array([[10.0, 0.0, 5.0]])
    # relevance (1, .5, 0), popularity (1, 0, .5): at .5 the values are (0, .25, -.25)
    np.testing.assert_array_equal(long_tail_order(scores, popularity, 0.5), [[1, 0, 2]])
    # at 1 only popularity counts: least popular first
    np.testing.assert_array_equal(long_tail_order(scores, popularity, 1.0), [[1, 2, 0]])
    # at .2: (.8 - .2, .4 - 0, 0 - .1) = (.6, .4, -.1): the ranker's order
    np.testing.assert_array_equal(long_tail_order(scores, popularity, 0.2), [[0, 1, 2]])


def test_weight_zero_is_the_identity_and_padding_stays_last():
    scores = np.array([[3.0, 2.0, 2.0, 1.0], [5.0, 1.0, NAN, NAN]])
    popularity = np.array([[9.0, 1.0, 0.0, 0.0], [7.0, 0.0, 0.0, 0.0]])
    identity = [[0, 1, 2, 3], [0, 1, 2, 3]]
    np.testing.assert_array_equal(long_tail_order(scores, popularity, 0.0), identity)
    categories = np.array([[0, 0, 1, 1], [1, 0, -1, -1]])
    np.testing.assert_array_equal(calibrated_order(scores, categories, np.array([[0.0, 5.0], [3.0, 0.0]]), 0.0, 3),
                                  identity)
    np.testing.assert_array_equal(long_tail_order(scores, popularity, 1.0)[1], [1, 0, 2, 3])


def kl(p: list[float], q: list[float]) -> float:
    """KL(p || (1 - a) q + a p), the metric category_kl's smoothing."""
    a = CALIBRATION_SMOOTHING
    return sum(pi * math.log(pi / ((1 - a) * qi + a * pi)) for pi, qi in zip(p, q, strict=True) if pi > 0)


def test_calibrated_order_by_hand():
    scores, categories = np.array([[3.0, 2.0, 1.0]]), np.array([[0, 0, 1]])
    half = np.array([[1.0, 1.0]])  # the customer's mix: half and half
    # first pick: every candidate alone has the same KL (1.9585), so relevance picks item 0; second: item 1
    # (relevance .5, KL 1.9585 again) against item 2 (relevance 0, KL 0): (1 - w) .5 against w 1.9585
    one_sided = kl([0.5, 0.5], [1.0, 0.0])
    assert one_sided == pytest.approx(0.5 * math.log(0.5 / 0.995) + 0.5 * math.log(100))
    assert one_sided == pytest.approx(1.958518, abs=1e-6)
    assert kl([0.5, 0.5], [0.5, 0.5]) == 0.0
    break_even = 0.5 / (0.5 + one_sided)
    np.testing.assert_array_equal(calibrated_order(scores, categories, half, break_even + 1e-6, 2), [[0, 2, 1]])
    np.testing.assert_array_equal(calibrated_order(scores, categories, half, break_even - 1e-6, 2), [[0, 1, 2]])
    # after `length` picks the rest follows in the ranker's order
    np.testing.assert_array_equal(calibrated_order(scores, categories, half, 1.0, 1), [[0, 1, 2]])


def test_calibrated_order_with_an_unknown_category_and_without_a_mix():
    scores = np.array([[3.0, 2.0, 1.0], [3.0, 2.0, 1.0]])
    categories = np.array([[-1, 0, 1], [-1, 0, 1]])
    # row 0 buys only category 1: step 1 item 2 (KL 0; item 0 alone: KL log 100, item 1: log 100);
    # step 2 item 0 (no category: the mix stays (0, 1), KL 0, relevance 1) before item 1 (KL -log .505)
    target = np.array([[0.0, 4.0], [0.0, 0.0]])  # row 1: no known mix, the ranker's order
    order = calibrated_order(scores, categories, target, 0.5, 3)
    np.testing.assert_array_equal(order, [[2, 0, 1], [0, 1, 2]])
    assert kl([0.0, 1.0], [0.5, 0.5]) == pytest.approx(-math.log(0.505))


def test_rerank_settings_are_checked():
    assert rerank_settings(None) == RerankSettings("none", 0.0, 50)
    assert rerank_settings({"method": "long_tail", "weight": 1}) == RerankSettings("long_tail", 1.0, 50)
    assert rerank_settings({"method": "calibrated", "weight": 0.0}).is_identity
    for bad, message in [({"method": "diverse"}, "method"), ({"weight": 1.5}, "weight"), ({"weight": True}, "weight"),
                         ({"weight": "0.5"}, "weight"), ({"pool": 0}, "pool"), ({"lambda": 0.5}, "unknown key")]:
        with pytest.raises(SegrecError, match=message):
            rerank_settings(bad)


def candidates_frame() -> pd.DataFrame:
    return pd.DataFrame({"customer_key": ["a", "a", "a", "b", "b"], "product_id": ["p1", "p2", "p3", "p1", "p4"],
                         "score": [3.0, 2.0, 1.0, 2.0, 1.0], "pop_365d": [10.0, 0.0, NAN, 10.0, 0.0]})


def test_rerank_candidates_reorders_only_each_customers_pool():
    frame = candidates_frame()
    assert rerank_candidates(frame, RerankSettings("long_tail", 0.0), length=2) is frame
    # pool 2: a's (p1, p2) scale to relevance (1, 0) and popularity (1, 0); p3 stays third
    reranked = rerank_candidates(frame, RerankSettings("long_tail", 0.75, pool=2), length=2)
    assert reranked["product_id"].tolist() == ["p2", "p1", "p3", "p4", "p1"]
    # at .5 the pool's values tie (0, 0): the ranker's order stays
    assert rerank_candidates(frame, RerankSettings("long_tail", 0.5, pool=2), length=2).equals(frame)


def test_category_mix_counts_known_categories_per_customer():
    mix = category_mix(np.array(["a", "a", "b", "b"]), np.array([0, 1, 1, -1]))
    assert mix.to_dict("index") == {"a": {0: 1.0, 1: 1.0}, "b": {0: 0.0, 1: 1.0}}


def pairs_frame() -> pd.DataFrame:
    """Customer c: one own product and four new ones; the best-scored new ones are the popular ones."""
    return pd.DataFrame({
        "customer_key": ["c"] * 5, "product_id": ["own", "n1", "n2", "n3", "n4"], "is_own": [1, 0, 0, 0, 0],
        "pop_365d": [50.0, 40.0, 30.0, 1.0, 0.0],
    })


def test_ranked_lists_rerank_discover_and_blended_but_not_buy_again():
    pairs, scores = pairs_frame(), np.array([0.9, 0.8, 0.7, 0.2, 0.1])
    plain = ranked_lists(pairs, scores, k=3)
    same = ranked_lists(pairs, scores, k=3, rerank=RerankSettings("long_tail", 0.0))
    pd.testing.assert_frame_equal(plain, same)
    tail = ranked_lists(pairs, scores, k=3, rerank=RerankSettings("long_tail", 1.0))
    listed = {t: part["product_id"].tolist() for t, part in tail.groupby("list_type")}
    assert listed == {"buy_again": ["own"], "discover": ["n4", "n3", "n2"], "blended": ["n4", "n3", "n2"]}
    assert tail.loc[tail["list_type"] == "discover", "score"].tolist() == [0.1, 0.2, 0.7]  # the ranker's scores


def test_ranked_lists_apply_the_category_cap_after_the_rerank():
    pairs, scores = pairs_frame(), np.array([0.9, 0.8, 0.7, 0.2, 0.1])
    categories = pd.Series({"own": "x", "n1": "y", "n2": "z", "n3": "t", "n4": "t"})
    capped = ranked_lists(pairs, scores, k=3, categories=categories, max_per_category=1,
                          rerank=RerankSettings("long_tail", 1.0), list_types=["discover"])
    # n4 and n3 share a category: n3 moves after every product within the cap
    assert capped["product_id"].tolist() == ["n4", "n2", "n1"]
    # calibrated toward the customer's own mix (all x): no candidate is in x, so each pick is
    # equally far from it and relevance decides: the ranker's order
    calibrated = ranked_lists(pairs, scores, k=3, categories=categories, rerank=RerankSettings("calibrated", 0.9),
                              list_types=["discover"])
    assert calibrated["product_id"].tolist() == ["n1", "n2", "n3"]
    # toward a history of t only: the two t products first (KL 0), then relevance among the others
    history = pd.DataFrame({"customer_key": ["c", "c"], "product_id": ["n3", "n4"]})
    toward = ranked_lists(pairs, scores, k=3, categories=categories, rerank=RerankSettings("calibrated", 0.9),
                          list_types=["discover"], history=history)
    assert toward["product_id"].tolist() == ["n3", "n4", "n1"]
    with pytest.raises(SegrecError, match="categories"):
        ranked_lists(pairs, scores, rerank=RerankSettings("calibrated", 0.5))


def test_batch_history_is_the_batchs_customers_at_its_cutoff():
    history = pd.DataFrame({"cutoff": ["test", "test", "test", "latest"], "customer_key": ["b", "a", "c", "a"],
                            "product_id": ["p1", "p2", "p3", "p4"]})
    histories = rows_by_cutoff(history, "history")
    batch = ScoredBatch("test", pd.DataFrame({"customer_key": ["a", "c", "a"]}), np.zeros(3), "trained", "v", "d")
    assert batch_history(histories, batch)[["customer_key", "product_id"]].values.tolist() == [["a", "p2"],
                                                                                               ["c", "p3"]]
    assert batch_history({}, batch) is None  # no history: the own products are the target
    assert batch_history(histories, ScoredBatch("validation", batch.pairs, batch.scores, "trained", "v", "d")).empty


def test_results_curve_rows_and_cost():
    settings = [
        {"method": "none", "weight": 0.0, "strategy": "ranker_blended", "ndcg": 0.4, "long_tail_share": 0.1},
        {"method": "long_tail", "weight": 0.5, "strategy": "ranker_blended", "ndcg": 0.3, "long_tail_share": 0.5},
        {"method": "none", "weight": 0.0, "strategy": "ranker_discover", "ndcg": 0.2, "long_tail_share": 0.2},
    ]
    rows = curve_rows(settings, "ranker_blended")
    assert rows == [["none", "0.00", 0.4, "-", 0.1, None, None, None],
                    ["long_tail", "0.50", 0.3, "-25.0%", 0.5, None, None, None]]
    chart = curve_chart(settings, "ranker_blended")
    assert chart[3:6] == ['    x-axis "long-tail share@10" ["0.100", "0.500"]', '    y-axis "NDCG@10"',
                          "    line [0.4000, 0.3000]"]
    assert cost(0.2, 0.0) == "-"


def test_results_section_reads_the_bench_files_sample_first(tmp_path):
    settings = [{"method": "none", "weight": 0.0, "strategy": "ranker_blended", "ndcg": 0.4, "long_tail_share": 0.1},
                {"method": "long_tail", "weight": 0.5, "strategy": "ranker_blended", "ndcg": 0.2,
                 "long_tail_share": 0.3}]
    for name, has in (("a_shop", False), ("sample", True)):
        curve = {"dataset": name, "customers": 1200, "list_length": 20, "k": 10, "max_per_category": 3,
                 "has_categories": has, "settings": settings}
        (tmp_path / f"{name}.json").write_text(json.dumps(curve))
    assert [c["dataset"] for c in read_curves(tmp_path)] == ["sample", "a_shop"]
    assert read_curves(tmp_path / "absent") == [] and rerank_section([]) == []
    page = "\n".join(rerank_section(read_curves(tmp_path)))
    assert page.index("### sample") < page.index("### a_shop")
    assert "| long_tail | 0.50 | 0.200 | -50.0% | 0.300 |" in page and "xychart-beta" in page
    assert page.count("The catalog has no categories") == 1
