"""Thompson-sampling strategy allocation: hand-checked posteriors, shares and the bandit's
regret against an even split on known click rates."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from segrec.bandits import (
    ASSIGNMENT_SCHEMA,
    ThompsonAllocator,
    allocation_settings,
    assign_strategies,
    assignment_period,
    evidence_weights,
    simulate_allocation,
    strategy_allocations,
    unit_hash,
)
from segrec.errors import SegrecError


def test_posterior_and_shares_of_two_arms() -> None:
    out = ThompsonAllocator(floor=0.1, draws=20_000, random_state=0).allocate([200, 200], [10, 60])
    # Beta(1 + 10, 1 + 190) and Beta(1 + 60, 1 + 140)
    assert out["posterior_alpha"].tolist() == [11.0, 61.0]
    assert out["posterior_beta"].tolist() == [191.0, 141.0]
    np.testing.assert_allclose(out["posterior_mean"], [11 / 202, 61 / 202])
    assert (out["ci_low"] < out["posterior_mean"]).all() and (out["posterior_mean"] < out["ci_high"]).all()
    # the second arm is better beyond doubt: it gets everything but the first arm's floor
    assert out["prob_best"].tolist() == [0.0, 1.0]
    np.testing.assert_allclose(out["traffic_share"], [0.1, 0.9])


def test_equal_evidence_splits_evenly_and_draws_are_reproducible() -> None:
    allocator = ThompsonAllocator(floor=0.0, draws=50_000, random_state=3)
    first = allocator.allocate([50, 50, 50], [5, 5, 5])
    np.testing.assert_allclose(first["prob_best"], [1 / 3] * 3, atol=0.01)
    assert first["traffic_share"].sum() == pytest.approx(1.0)
    pd.testing.assert_frame_equal(first, allocator.allocate([50, 50, 50], [5, 5, 5]))


def test_allocator_refuses_impossible_settings_and_counts() -> None:
    with pytest.raises(SegrecError, match="floor"):
        ThompsonAllocator(floor=0.4).allocate([1, 1, 1], [0, 0, 0])
    with pytest.raises(SegrecError, match="successes"):
        ThompsonAllocator().allocate([1, 1], [2, 0])
    with pytest.raises(SegrecError, match="unknown key"):
        allocation_settings({"flor": 0.1})


def test_evidence_halves_every_half_life_and_undated_weighs_as_the_oldest() -> None:
    shown = pd.Series(pd.to_datetime(["2026-01-31", "2026-01-01", None]))
    weights = evidence_weights(shown, pd.Timestamp("2026-01-31"), half_life_days=30)
    np.testing.assert_allclose(weights, [1.0, 0.5, 0.5])
    assert evidence_weights(shown, pd.Timestamp("2026-01-31"), None).tolist() == [1.0, 1.0, 1.0]


def test_allocations_per_segment_and_for_everyone() -> None:
    rows = (
        [("A", "als", "2026-01-31", True)] * 2 + [("A", "als", "2026-01-31", False)] * 2
        + [("A", "popularity", "2026-01-01", True)] * 1 + [("B", "als", "2026-01-31", False)] * 3
    )
    outcomes = pd.DataFrame(rows, columns=["segment_name", "strategy", "shown_at", "clicked"]).assign(
        shown_at=lambda f: pd.to_datetime(f["shown_at"]), converted=False, layout_variant="none")
    out = strategy_allocations(outcomes, reward="click", half_life_days=30,
                               allocator=ThompsonAllocator(floor=0.05, draws=1000))
    keyed = out.set_index(["segment_name", "strategy"])
    assert sorted(keyed.index) == [("A", "als"), ("A", "popularity"), ("B", "als"), ("all", "als"),
                                   ("all", "popularity")]
    assert keyed.loc[("A", "als"), ["n_impressions", "n_rewards"]].tolist() == [4, 2]
    # the popularity click is 30 days older than as_of: it weighs half
    assert keyed.loc[("A", "popularity"), ["weighted_impressions", "weighted_rewards"]].tolist() == [0.5, 0.5]
    assert keyed.loc[("all", "als"), ["n_impressions", "n_rewards"]].tolist() == [7, 2]
    # a segment with one strategy gives it all the traffic
    assert keyed.loc[("B", "als"), ["prob_best", "traffic_share"]].tolist() == [1.0, 1.0]
    assert out.groupby("segment_name")["traffic_share"].sum().round(12).eq(1).all()
    assert (out["as_of"] == pd.Timestamp("2026-01-31")).all()
    with pytest.raises(SegrecError, match="reward"):
        strategy_allocations(outcomes, reward="revenue")


def test_thompson_regret_is_far_below_an_even_split_and_above_the_oracle() -> None:
    rates = {"a": 0.02, "b": 0.05, "c": 0.04}
    runs = {policy: simulate_allocation(rates, policy=policy, periods=30, impressions_per_period=500,
                                        allocator=ThompsonAllocator(floor=0.02, draws=2000), random_state=1)
            for policy in ("thompson", "fixed", "oracle")}
    final = {policy: run["cumulative_regret"].iloc[-1] for policy, run in runs.items()}
    assert final["oracle"] == 0.0
    # the even split loses (0.03 + 0.01) / 3 clicks per impression on average, 200 over 15,000
    assert final["fixed"] == pytest.approx(200, rel=0.1)
    assert final["thompson"] < 0.5 * final["fixed"]
    assert runs["thompson"]["share_b"].iloc[-1] > 0.7  # traffic moved to the best strategy



# ---------------------------------------------------------------------------- assignment
def allocation_rows(rows: list[tuple[str, str, str, float]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["segment_name", "layout_variant", "strategy", "traffic_share"])


def test_assignment_period_counts_whole_periods_from_the_epoch():
    # 2026-12-05 is day 20,792 since 1970-01-01; 20,792 - 20,792 % 7 = 20,790 -> 2026-12-03
    assert assignment_period(pd.Timestamp("2026-12-05 17:45"), 7) == pd.Timestamp("2026-12-03")
    assert assignment_period(pd.Timestamp("2026-12-05 17:45"), 1) == pd.Timestamp("2026-12-05")
    with pytest.raises(SegrecError, match="period_days must be a whole number >= 1"):
        assignment_period(pd.Timestamp("2026-12-03"), 0)


def test_unit_hash_is_uniform_stable_and_salted():
    keys = [f"C{i}" for i in range(20_000)]
    first = unit_hash(keys, "a")
    assert ((first >= 0) & (first < 1)).all()
    np.testing.assert_array_equal(first, unit_hash(keys, "a"))
    assert abs(first.mean() - 0.5) < 0.01 and abs((first < 0.2).mean() - 0.2) < 0.01
    assert np.corrcoef(first, unit_hash(keys, "b"))[0, 1] < 0.05


def test_strategies_are_drawn_by_traffic_share_per_group_with_the_all_fallback():
    allocations = allocation_rows([
        ("Loyal", "none", "als", 0.7), ("Loyal", "none", "popularity", 0.3),
        ("all", "none", "als", 0.1), ("all", "none", "popularity", 0.9),
    ])
    customers = pd.DataFrame({"customer_key": [f"C{i}" for i in range(20_000)],
                              "segment_name": ["Loyal", "New"] * 10_000, "layout_variant": "none"})
    start = pd.Timestamp("2026-11-27")
    assigned = assign_strategies(customers, allocations, period_start=start)
    assert list(assigned.columns) == list(ASSIGNMENT_SCHEMA.names) and len(assigned) == len(customers)
    shares = assigned.groupby("segment_name")["strategy"].value_counts(normalize=True)
    # 10,000 tickets per segment: within about 4 standard errors of the shares
    assert shares[("Loyal", "als")] == pytest.approx(0.7, abs=0.02)
    assert shares[("New", "popularity")] == pytest.approx(0.9, abs=0.012)  # no own allocation: segment all's
    assert set(assigned.loc[assigned["segment_name"] == "New", "allocation_segment"]) == {"all"}
    # the ticket decides: als below 0.7 for Loyal, below 0.1 for New
    tickets = unit_hash(customers["customer_key"].tolist(), f"0\x1f{start:%Y-%m-%d}")
    expected = np.where(customers["segment_name"] == "Loyal", np.where(tickets < 0.7, "als", "popularity"),
                        np.where(tickets < 0.1, "als", "popularity"))
    np.testing.assert_array_equal(assigned.set_index("customer_key").loc[customers["customer_key"], "strategy"],
                                  expected)
    # the same period keeps everyone's strategy; the next one draws again
    pd.testing.assert_frame_equal(assigned, assign_strategies(customers, allocations, period_start=start))
    later = assign_strategies(customers, allocations, period_start=start + pd.Timedelta(days=7))
    assert 0.2 < (later["strategy"] != assigned["strategy"]).mean() < 0.6


def test_served_lists_name_the_list_of_each_strategy_segrec_serves():
    allocations = allocation_rows([("all", "none", "als", 0.5), ("all", "none", "collaborative", 0.5)])
    customers = pd.DataFrame({"customer_key": [f"C{i}" for i in range(40)], "segment_name": "Loyal",
                              "layout_variant": "none"})
    assigned = assign_strategies(customers, allocations, period_start=pd.Timestamp("2026-11-27"),
                                 served_lists={"als": "discover"})
    assert set(map(tuple, assigned[["strategy", "list_type"]].drop_duplicates().fillna("-").values)) == {
        ("als", "discover"), ("collaborative", "-")}
    assert allocation_settings({"served_lists": {"hybrid": "blended"}})["served_lists"] == {"hybrid": "blended"}
    with pytest.raises(SegrecError, match="served_lists must map strategies to list types"):
        allocation_settings({"served_lists": {"hybrid": "homepage"}})


def test_a_variant_without_any_allocation_assigns_nobody():
    allocations = allocation_rows([("all", "A", "als", 1.0)])
    customers = pd.DataFrame({"customer_key": ["x", "y"], "segment_name": ["Loyal", "Loyal"],
                              "layout_variant": ["A", "B"]})
    assigned = assign_strategies(customers, allocations, period_start=pd.Timestamp("2026-11-27"))
    assert assigned[["customer_key", "strategy", "allocation_segment"]].values.tolist() == [["x", "als", "all"]]
