"""segrec.experiments: tests against scipy.stats, hand-computed cases and seeded simulations."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from segrec.errors import SegrecError
from segrec.experiments import (
    RESULT_COLUMNS,
    analyze_experiment,
    chi_square_test,
    click_through_rates,
    difference_ci,
    minimum_detectable_effect,
    ratio_metric,
    relative_lift_ci,
    required_sample_size,
    srm_test,
    two_proportion_ztest,
    welch_ttest,
)

Z975 = 1.959963984540054  # standard normal 97.5% quantile


# ---------------------------------------------------------------------------------------
# tests against scipy and by hand


def test_two_proportion_ztest_by_hand() -> None:
    # 10/100 vs 20/100: pooled 0.15, se = sqrt(0.15 * 0.85 * (1/100 + 1/100)) = 0.0504975
    result = two_proportion_ztest(10, 100, 20, 100)
    assert result.statistic == pytest.approx(1.9802950859533488, abs=1e-12)
    assert result.p_value == pytest.approx(0.04767038065616141, abs=1e-12)
    assert result.test == "two_proportion_z"
    assert two_proportion_ztest(20, 100, 10, 100).statistic == pytest.approx(-result.statistic)


@pytest.mark.parametrize("table", [(130, 1000, 162, 1010), (5, 40, 0, 37), (480, 5000, 530, 4900)])
def test_two_proportion_ztest_squared_is_the_2x2_chi_square_of_scipy(table: tuple[int, ...]) -> None:
    s_a, n_a, s_b, n_b = table
    z = two_proportion_ztest(s_a, n_a, s_b, n_b)
    chi2, p, df, _ = stats.chi2_contingency([[s_a, n_a - s_a], [s_b, n_b - s_b]], correction=False)
    assert z.statistic**2 == pytest.approx(chi2, abs=1e-9)
    assert z.p_value == pytest.approx(p, abs=1e-9)
    ours = chi_square_test([s_a, s_b], [n_a, n_b])
    assert (ours.statistic, ours.df) == (pytest.approx(chi2, abs=1e-9), df)
    assert ours.p_value == pytest.approx(p, abs=1e-9)


def test_chi_square_test_matches_scipy_for_three_variants() -> None:
    successes, n = [52, 61, 80], [500, 505, 498]
    chi2, p, df, _ = stats.chi2_contingency(np.column_stack([successes, np.subtract(n, successes)]))
    ours = chi_square_test(successes, n)
    assert ours.statistic == pytest.approx(chi2, abs=1e-9)
    assert ours.p_value == pytest.approx(p, abs=1e-9)
    assert ours.df == df == 2


def test_welch_ttest_matches_scipy() -> None:
    rng = np.random.default_rng(3)
    a = rng.gamma(2.0, 20.0, size=57)
    b = rng.gamma(2.0, 26.0, size=43)
    expected = stats.ttest_ind(b, a, equal_var=False)
    ours = welch_ttest(a.mean(), a.var(ddof=1), a.size, b.mean(), b.var(ddof=1), b.size)
    assert ours.statistic == pytest.approx(expected.statistic, abs=1e-9)
    assert ours.p_value == pytest.approx(expected.pvalue, abs=1e-9)
    assert ours.df == pytest.approx(expected.df, abs=1e-9)


def test_srm_test_matches_scipy_and_flags_a_55_45_split() -> None:
    counts = {"control": 5500, "treatment": 4500}
    result = srm_test(counts, {"control": 0.5, "treatment": 0.5})
    # (500^2 / 5000) * 2 = 100 on 1 degree of freedom
    assert result.statistic == pytest.approx(100.0)
    assert result.p_value == pytest.approx(stats.chi2.sf(100.0, 1), rel=1e-12)
    uneven = srm_test({"a": 2050, "b": 2950, "c": 5000}, {"a": 2, "b": 3, "c": 5})
    expected = stats.chisquare([2050, 2950, 5000], f_exp=[2000, 3000, 5000])
    assert uneven.statistic == pytest.approx(expected.statistic, abs=1e-9)
    assert uneven.p_value == pytest.approx(expected.pvalue, abs=1e-9)
    with pytest.raises(SegrecError, match="planned share for variant"):
        srm_test({"a": 10, "b": 10}, {"a": 1.0})


def test_difference_ci_normal_and_t() -> None:
    diff, low, high = difference_ci(0.10, 0.003, 0.13, 0.004)
    assert diff == pytest.approx(0.03)
    assert (high - diff) == pytest.approx(Z975 * 0.005, abs=1e-12)  # hypot(3, 4) = 5
    _, low_t, high_t = difference_ci(10.0, 1.0, 12.0, 1.0, df=12.0)
    assert high_t - 2.0 == pytest.approx(stats.t.ppf(0.975, 12.0) * math.sqrt(2.0), abs=1e-12)
    assert low_t < low  # a t quantile is wider than the normal one


def test_relative_lift_ci_without_control_noise_is_symmetric() -> None:
    lift, low, high = relative_lift_ci(0.10, 0.0, 0.13, 0.01)
    assert lift == pytest.approx(0.30)
    assert (low, high) == (pytest.approx(0.30 - Z975 * 0.1), pytest.approx(0.30 + Z975 * 0.1))


@pytest.mark.parametrize("means", [(0.10, 0.004, 0.13, 0.005), (40.0, 3.0, 35.0, 2.5), (5.0, 1.5, 9.0, 2.0)])
def test_relative_lift_ci_bounds_solve_fieller_equation(means: tuple[float, ...]) -> None:
    a, se_a, b, se_b = means
    lift, low, high = relative_lift_ci(a, se_a, b, se_b)
    assert low < lift < high
    for bound in (low, high):
        rho = bound + 1
        assert (b - rho * a) ** 2 == pytest.approx(Z975**2 * (se_b**2 + rho**2 * se_a**2), rel=1e-9)


def test_relative_lift_ci_is_unbounded_when_control_is_indistinguishable_from_zero() -> None:
    lift, low, high = relative_lift_ci(1.0, 0.6, 2.0, 0.5)
    assert lift == pytest.approx(1.0)
    assert math.isnan(low) and math.isnan(high)
    assert all(math.isnan(v) for v in relative_lift_ci(0.0, 0.1, 1.0, 0.1))


def test_sample_size_for_10_percent_relative_lift_on_10_percent_conversion() -> None:
    sd = math.sqrt(0.1 * 0.9)
    # 2 * ((1.959964 + 0.841621) * 0.3 / 0.01)^2 = 14127.98
    n = required_sample_size(0.01, sd)
    assert n == 14128
    assert minimum_detectable_effect(n, n, sd) <= 0.01 < minimum_detectable_effect(n - 1, n - 1, sd)
    assert minimum_detectable_effect(0, 10, sd) == math.inf


def test_ratio_metric_by_hand_and_binomial_special_case() -> None:
    # clicks (1, 0, 2) over impressions (2, 1, 2): R = 0.6; population moments
    # var(y) = 2/3, var(d) = 2/9, cov = 1/3 -> (2/3 - 0.4 + 0.08) / (3 * (5/3)^2) = 0.0416
    ratio, se = ratio_metric([1, 0, 2], [2, 1, 2])
    assert ratio == pytest.approx(0.6)
    assert se == pytest.approx(math.sqrt(0.0416), abs=1e-12)
    clicks = np.array([1] * 7 + [0] * 13)
    ratio, se = ratio_metric(clicks, np.ones(20))
    assert (ratio, se) == (pytest.approx(0.35), pytest.approx(math.sqrt(0.35 * 0.65 / 20), abs=1e-12))


def test_click_through_rates_by_strategy() -> None:
    impressions = pd.DataFrame({
        "customer_key": ["a", "a", "b", "c", "c", "c"],
        "strategy": ["als", "als", "als", "popular", "popular", "popular"],
        "clicked": [True, False, False, True, True, False],
    })
    ctr = click_through_rates(impressions)
    assert ctr["strategy"].tolist() == ["als", "popular"]
    assert ctr["impressions"].tolist() == [3, 3]
    assert ctr["clicks"].tolist() == [1, 2]
    assert ctr["ctr"].tolist() == pytest.approx([1 / 3, 2 / 3])
    assert ctr["se"].iloc[1] == 0.0  # one customer: no between-customer variance


def test_null_hypothesis_rejection_rate_is_close_to_alpha() -> None:
    """1,000 seeded A/A comparisons: each test rejects at 5% about 5% of the time."""
    rng = np.random.default_rng(11)
    rejected = {"z": 0, "welch": 0}
    for _ in range(1000):
        a, b = rng.random(400) < 0.2, rng.random(400) < 0.2
        rejected["z"] += two_proportion_ztest(a.sum(), a.size, b.sum(), b.size).p_value < 0.05
        x, y = rng.gamma(2.0, 10.0, 60), rng.gamma(2.0, 10.0, 60)
        welch = welch_ttest(x.mean(), x.var(ddof=1), 60, y.mean(), y.var(ddof=1), 60)
        rejected["welch"] += welch.p_value < 0.05
    assert 30 <= rejected["z"] <= 70
    assert 30 <= rejected["welch"] <= 70


# ---------------------------------------------------------------------------------------
# analyze_experiment


def simulate_experiment(
    experiment_id: str, n: int, session_conversion: dict[str, float], ctr: dict[str, float], seed: int,
    shares: tuple[float, ...] | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Assignments, orders, impressions and sessions with known per-variant session conversion
    and click-through rates; every converted session is one order."""
    rng = np.random.default_rng(seed)
    variant = rng.choice(list(session_conversion), size=n, p=shares)
    keys = np.array([f"{experiment_id}-{i}" for i in range(n)])
    assignments = pd.DataFrame({"experiment_id": experiment_id, "customer_key": keys, "variant": variant})
    n_sessions = 1 + rng.poisson(1.5, n)
    session_variant = np.repeat(variant, n_sessions)
    converted = rng.random(session_variant.size) < np.array([session_conversion[v] for v in session_variant])
    sessions = pd.DataFrame({
        "experiment_id": experiment_id, "customer_key": np.repeat(keys, n_sessions), "converted": converted,
    })
    orders = sessions.loc[converted, ["experiment_id", "customer_key"]].assign(
        revenue=rng.gamma(2.0, 20.0, int(converted.sum()))
    )
    n_shown = rng.poisson(4, n)
    shown_variant = np.repeat(variant, n_shown)
    impressions = pd.DataFrame({
        "experiment_id": experiment_id, "customer_key": np.repeat(keys, n_shown),
        "clicked": rng.random(shown_variant.size) < np.array([ctr[v] for v in shown_variant]),
    })
    return assignments, orders, impressions, sessions


def _row(results: pd.DataFrame, experiment_id: str, metric: str, variant: str) -> pd.Series:
    match = results[(results["experiment_id"] == experiment_id) & (results["metric"] == metric)
                    & (results["variant"] == variant)]
    assert len(match) == 1
    return match.iloc[0]


def test_analyze_experiment_small_fixture_by_hand() -> None:
    assignments = pd.DataFrame({
        "experiment_id": "e1",
        "customer_key": ["c1", "c2", "c3", "c4", "t1", "t2", "t3", "t4", "t4"],  # t4 repeated
        "variant": ["control"] * 4 + ["treatment"] * 5,
    })
    outcomes = pd.DataFrame({
        "experiment_id": "e1",
        "customer_key": ["c1", "t1", "t2", "t2", "t3"],
        "revenue": [10.0, 20.0, 30.0, 10.0, 40.0],
    })
    impressions = pd.DataFrame({
        "experiment_id": "e1",
        "customer_key": ["c1", "c1", "c2", "t1", "t2"],
        "clicked": [True, False, False, True, True],
    })
    sessions = pd.DataFrame({
        "experiment_id": "e1",
        "customer_key": ["c1", "c1", "c2", "c3", "c4", "t1", "t2", "t2", "t3", "t4", "t4"],
        "converted": [1, 0, 0, 0, 0, 1, 1, 1, 1, 0, 0],
    })
    results = analyze_experiment(assignments, outcomes, impressions, sessions)
    assert tuple(results.columns) == RESULT_COLUMNS
    metrics = ("conversion_rate", "session_conversion_rate", "revenue_per_customer", "average_order_value",
               "click_through_rate")
    assert results["metric"].tolist() == [m for m in metrics for _ in ("control", "treatment")]
    assert results["variant"].tolist() == ["control", "treatment"] * 5

    conversion = _row(results, "e1", "conversion_rate", "treatment")
    assert (conversion["n"], conversion["value"]) == (4, 0.75)
    assert _row(results, "e1", "conversion_rate", "control")["value"] == 0.25
    assert conversion["lift"] == pytest.approx(2.0)
    assert conversion["p_value"] == pytest.approx(two_proportion_ztest(1, 4, 3, 4).p_value)
    assert conversion["test"] == "two_proportion_z"

    by_session = _row(results, "e1", "session_conversion_rate", "treatment")
    assert (by_session["n"], by_session["value"]) == (6, pytest.approx(4 / 6))
    assert by_session["test"] == "delta_method_z"
    assert _row(results, "e1", "session_conversion_rate", "control")["value"] == pytest.approx(1 / 5)

    revenue = _row(results, "e1", "revenue_per_customer", "treatment")
    assert revenue["value"] == pytest.approx(25.0)  # (20 + 40 + 40 + 0) / 4
    expected = stats.ttest_ind([20.0, 40.0, 40.0, 0.0], [10.0, 0.0, 0.0, 0.0], equal_var=False)
    assert revenue["p_value"] == pytest.approx(expected.pvalue, abs=1e-9)
    aov = _row(results, "e1", "average_order_value", "treatment")
    assert (aov["n"], aov["value"]) == (4, pytest.approx(25.0))  # 4 orders
    assert _row(results, "e1", "average_order_value", "control")["n"] == 1

    ctr = _row(results, "e1", "click_through_rate", "treatment")
    assert (ctr["n"], ctr["value"], ctr["test"]) == (2, 1.0, "delta_method_z")
    assert _row(results, "e1", "click_through_rate", "control")["value"] == pytest.approx(1 / 3)

    control_rows = results[results["variant"] == "control"]
    assert control_rows[["lift", "p_value", "ci_low"]].isna().all().all()
    assert control_rows["underpowered"].isna().all()
    assert results["srm_ok"].all() and (results["srm_p_value"] == 1.0).all()  # 4 vs 4
    assert results.loc[results["variant"] == "treatment", "underpowered"].all()  # 8 customers


def test_aa_test_is_not_significant_and_known_effect_is_detected() -> None:
    aa = simulate_experiment("homepage_aa", 8000, {"A": 0.10, "B": 0.10}, {"A": 0.05, "B": 0.05}, seed=1)
    effect = simulate_experiment(  # hybrid raises session conversion and CTR by 30%
        "rec_strategy_test", 8000, {"collaborative": 0.10, "hybrid": 0.13},
        {"collaborative": 0.05, "hybrid": 0.065}, seed=2,
    )
    results = analyze_experiment(*(pd.concat(parts) for parts in zip(aa, effect, strict=True)))

    aa_rows = results[(results["experiment_id"] == "homepage_aa") & (results["variant"] == "B")]
    assert len(aa_rows) == 5
    assert (aa_rows["p_value"] > 0.05).all()
    assert ((aa_rows["ci_low"] < 0) & (aa_rows["ci_high"] > 0)).all()
    assert results["srm_ok"].all()

    effect_rows = results[results["experiment_id"] == "rec_strategy_test"]
    assert set(effect_rows.loc[effect_rows["lift"].isna(), "variant"]) == {"collaborative"}  # the control
    for metric in ("session_conversion_rate", "click_through_rate"):
        row = _row(results, "rec_strategy_test", metric, "hybrid")
        assert row["p_value"] < 0.001
        assert 0 < row["ci_low"] < 0.30 < row["ci_high"]
    for metric in ("conversion_rate", "revenue_per_customer"):  # diluted, but still detected
        row = _row(results, "rec_strategy_test", metric, "hybrid")
        assert row["p_value"] < 0.01 and row["lift"] > 0
    aov = _row(results, "rec_strategy_test", "average_order_value", "hybrid")
    assert aov["p_value"] > 0.05  # order values were drawn from one distribution


def test_sample_ratio_mismatch_and_power_flags() -> None:
    assignments, orders, _, _ = simulate_experiment(
        "skewed", 10000, {"control": 0.2, "treatment": 0.2}, {"control": 0.1, "treatment": 0.1},
        seed=5, shares=(0.53, 0.47),
    )
    results = analyze_experiment(assignments, orders, minimum_effect=0.15)
    assert not results["srm_ok"].any()
    assert (results["srm_p_value"] < 1e-6).all()
    # the mismatch disappears when the planned split is the one used
    planned_shares = {"skewed": {"control": 53, "treatment": 47}}
    planned = analyze_experiment(assignments, orders, planned_shares=planned_shares)
    assert planned["srm_ok"].all()

    control = _row(results, "skewed", "conversion_rate", "control")
    treatment = _row(results, "skewed", "conversion_rate", "treatment")
    rate = control["value"]
    mde = 2.8015852181129683 * math.sqrt(rate * (1 - rate) * (1 / control["n"] + 1 / treatment["n"]))
    assert treatment["minimum_detectable_lift"] == pytest.approx(mde / rate, rel=1e-9)
    assert treatment["minimum_detectable_lift"] < 0.15 and not treatment["underpowered"]
    assert set(results["metric"]) == {"conversion_rate", "revenue_per_customer", "average_order_value"}


def test_analyze_experiment_rejects_bad_input_with_clear_errors() -> None:
    good = pd.DataFrame({"experiment_id": "e", "customer_key": ["a", "b", "c", "d"], "variant": list("xxyy")})
    orders = pd.DataFrame({"experiment_id": "e", "customer_key": ["a"], "revenue": [1.0]})
    twice = pd.concat([good, good.iloc[:1].assign(variant="y")])
    with pytest.raises(SegrecError, match="two variants"):
        analyze_experiment(twice, orders)
    with pytest.raises(SegrecError, match="assignments: missing column"):
        analyze_experiment(good.drop(columns="variant"), orders)
    with pytest.raises(SegrecError, match="not assigned"):
        analyze_experiment(good, orders.assign(customer_key="zz"))
    with pytest.raises(SegrecError, match="outcomes.revenue"):
        analyze_experiment(good, orders.assign(revenue="n/a"))
    with pytest.raises(SegrecError, match="control variant 'z'"):
        analyze_experiment(good, orders, control="z")
    with pytest.raises(SegrecError, match="impressions.clicked"):
        analyze_experiment(good, orders, orders.assign(clicked="false"))
