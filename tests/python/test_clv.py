"""segrec.clv: likelihoods by hand, model identities, parameter recovery, CDNOW validation."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import integrate, special, stats

from segrec.clv import (
    BetaGeoModel,
    GammaGammaModel,
    bgnbd_log_likelihood,
    churn_risk_band,
    expected_purchases_given_active,
    fit_customer_value,
    gamma_gamma_log_likelihood,
    holdout_comparison,
    predict_customer_value,
    simulate_beta_geo,
    simulate_gamma_gamma,
    summarize_transactions,
)
from segrec.errors import SegrecError

from .dbt_harness import datasets_dir

# Fader, Hardie & Lee (2005), CDNOW 1/10 sample, 39 weeks: the published BG/NBD estimates.
PUBLISHED_BGNBD = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}
# Fader & Hardie (2013) Gamma-Gamma note, same sample, 946 customers with repeat purchases.
PUBLISHED_GAMMA_GAMMA = {"p": 6.25, "q": 3.74, "gamma": 15.44}


def _beta(p: float, q: float) -> float:
    return math.gamma(p) * math.gamma(q) / math.gamma(p + q)


@pytest.fixture(scope="module")
def published_model() -> BetaGeoModel:
    """A BetaGeoModel set to the published parameters, to evaluate formulas at exact values."""
    model = BetaGeoModel()
    model.params_ = dict(PUBLISHED_BGNBD)
    return model


# ---------------------------------------------------------------------------------------
# likelihoods by hand


def test_bgnbd_log_likelihood_without_repeat_purchases_by_hand() -> None:
    # x = 0: L = (alpha / (alpha + T))^r, the beta functions cancel.
    value = bgnbd_log_likelihood(list(PUBLISHED_BGNBD.values()), [0.0], [0.0], [38.0])[0]
    assert value == pytest.approx(0.243 * math.log(4.414 / 42.414), abs=1e-12)
    assert value == pytest.approx(-0.5498354168255055, abs=1e-12)


@pytest.mark.parametrize("x, t_x, T", [(1, 5.0, 20.0), (2, 30.43, 38.86), (6, 12.0, 12.0)])
def test_bgnbd_log_likelihood_matches_equation_6_evaluated_directly(x: int, t_x: float, T: float) -> None:
    r, alpha, a, b = PUBLISHED_BGNBD.values()
    common = math.gamma(r + x) * alpha**r / math.gamma(r)
    likelihood = (
        _beta(a, b + x) / _beta(a, b) * common / (alpha + T) ** (r + x)
        + _beta(a + 1, b + x - 1) / _beta(a, b) * common / (alpha + t_x) ** (r + x)
    )
    ours = bgnbd_log_likelihood((r, alpha, a, b), [x], [t_x], [T])[0]
    assert ours == pytest.approx(math.log(likelihood), abs=1e-10)


@pytest.mark.parametrize("x, m", [(1, 12.5), (3, 40.0), (12, 7.25)])
def test_gamma_gamma_log_likelihood_is_a_scaled_beta_prime(x: int, m: float) -> None:
    # m = mean of x Gamma(p, nu) draws ~ Gamma(p x, x nu) with nu ~ Gamma(q, gamma):
    # x m / gamma ~ BetaPrime(p x, q).
    p, q, gamma = PUBLISHED_GAMMA_GAMMA.values()
    expected = stats.betaprime(p * x, q, scale=gamma / x).logpdf(m)
    assert gamma_gamma_log_likelihood((p, q, gamma), [x], [m])[0] == pytest.approx(expected, abs=1e-10)


# ---------------------------------------------------------------------------------------
# BG/NBD identities and properties


def test_probability_alive_is_one_without_repeat_purchases_and_by_hand(published_model: BetaGeoModel) -> None:
    alive = published_model.probability_alive([0, 0, 2], [0.0, 0.0, 30.43], [1.0, 70.0, 38.86])
    assert alive[:2].tolist() == [1.0, 1.0]  # dropout only happens right after a repeat purchase
    # 1 / (1 + a/(b+x-1) ((alpha+T)/(alpha+t_x))^(r+x))
    assert alive[2] == pytest.approx(0.726578570080673, abs=1e-12)


def test_probability_alive_falls_with_time_since_last_purchase(published_model: BetaGeoModel) -> None:
    T = np.linspace(10.0, 80.0, 8)
    alive = published_model.probability_alive(np.full(8, 3.0), np.full(8, 10.0), T)
    assert np.all(np.diff(alive) < 0)
    later_purchase = published_model.probability_alive(np.full(8, 3.0), np.full(8, 9.0) + 0.5, T)
    assert np.all(later_purchase < alive)  # last purchase earlier -> less likely alive


def _posterior_expectation(model: BetaGeoModel, t: float, x: int, t_x: float, T: float) -> float:
    """Independent derivation: given alive, lambda ~ Gamma(r+x, alpha+T), p ~ Beta(a, b+x);
    E[purchases in t | lambda, p] = (1 - exp(-lambda p t)) / p. Integrate lambda out in closed
    form and p numerically (the Beta density as an algebraic weight, which copes with a < 1)."""
    r, alpha, a, b = model.params_.values()

    def integrand(p: float) -> float:
        return -math.expm1(-(r + x) * math.log1p(p * t / (alpha + T))) / p if p > 0 else (r + x) * t / (alpha + T)

    weighted = integrate.quad(integrand, 0, 1, weight="alg", wvar=(a - 1, b + x - 1), epsabs=0, epsrel=1e-12)[0]
    given_alive = weighted / math.exp(special.betaln(a, b + x))
    return given_alive * model.probability_alive([x], [t_x], [T])[0]


def _beta_geo(r: float, alpha: float, a: float, b: float) -> BetaGeoModel:
    model = BetaGeoModel()
    model.params_ = {"r": r, "alpha": alpha, "a": a, "b": b}
    return model


@pytest.mark.parametrize(
    "x, t_x, T, t",
    [(0, 0.0, 38.0, 39.0), (2, 30.43, 38.86, 39.0), (7, 35.0, 38.0, 52.0), (40, 37.0, 38.5, 10.0)],
)
def test_expected_purchases_matches_the_posterior_integral(
    published_model: BetaGeoModel, x: int, t_x: float, T: float, t: float
) -> None:
    expected = _posterior_expectation(published_model, t, x, t_x, T)
    assert published_model.expected_purchases(t, [x], [t_x], [T])[0] == pytest.approx(expected, rel=1e-8)


def test_expected_purchases_of_a_new_customer_is_the_unconditional_formula(
    published_model: BetaGeoModel,
) -> None:
    # x = 0, T = 0: E[X(t)] = (a+b-1)/(a-1) [1 - (alpha/(alpha+t))^r 2F1(r, b; a+b-1; t/(alpha+t))]
    r, alpha, a, b = PUBLISHED_BGNBD.values()
    for t in (1.0, 39.0, 78.0):
        bracket = 1 - (alpha / (alpha + t)) ** r * special.hyp2f1(r, b, a + b - 1, t / (alpha + t))
        ours = published_model.expected_purchases(t, [0], [0.0], [0.0])[0]
        assert ours == pytest.approx((a + b - 1) / (a - 1) * bracket, rel=1e-10)


def test_expected_purchases_grow_with_horizon_and_start_at_zero(published_model: BetaGeoModel) -> None:
    horizons = [0.0, 1.0, 5.0, 13.0, 39.0, 200.0]
    values = [published_model.expected_purchases(t, [3, 0], [20.0, 0.0], [30.0, 30.0]) for t in horizons]
    assert values[0].tolist() == [0.0, 0.0]
    assert np.all(np.diff(np.array(values), axis=0) > 0)


def test_simulator_agrees_with_the_unconditional_expectation(published_model: BetaGeoModel) -> None:
    simulated = simulate_beta_geo(**PUBLISHED_BGNBD, T=np.full(40000, 52.0), random_state=1)
    expected = published_model.expected_purchases(52.0, [0], [0.0], [0.0])[0]
    standard_error = simulated["frequency"].std() / math.sqrt(len(simulated))
    assert abs(simulated["frequency"].mean() - expected) < 4 * standard_error
    assert (simulated["recency"] <= simulated["T"]).all()
    assert (simulated.loc[simulated["frequency"] == 0, "recency"] == 0).all()


def test_expected_purchases_for_huge_a_and_b_reach_the_fixed_dropout_limit() -> None:
    """a, b -> infinity with a / (a+b) = 1/4: p is 1/4 for everybody, so given alive
    E = (1 - (1 + w/4)^-(r+x)) * 4 with w = t / (alpha+T). (The closed form with 2F1 gave NaN.)"""
    model = _beta_geo(r=2.0, alpha=10.0, a=1e9, b=3e9)
    values = model.expected_purchases(10.0, [0, 2], [0.0, 5.0], [10.0, 10.0])
    # w = 10 / 20: x = 0: (1 - (8/9)^2) * 4 = 68/81, P(alive) = 1;
    # x = 2: (1 - (8/9)^4) * 4 = 9860/6561, P(alive) = 1 / (1 + 1/3 (20/15)^4) = 243/499
    assert values == pytest.approx([68 / 81, 9860 / 6561 * 243 / 499], rel=1e-8)


def test_expected_purchases_without_dropout_when_b_dwarfs_a() -> None:
    """b >> a: p is about 0, so an active customer buys at rate lambda ~ Gamma(r+x, alpha+T)
    throughout: E = (r+x) t / (alpha+T). (The closed form was off by 1e-6 here, and by 5e-3 at
    b = 1e14: it multiplies 1 - 2F1, which shrinks towards rounding, by (a+b+x-1)/(a-1).)"""
    model = _beta_geo(r=2.0, alpha=10.0, a=3.0, b=1e10)
    values = model.expected_purchases(10.0, [0, 2], [0.0, 5.0], [10.0, 10.0])
    assert values == pytest.approx([2 * 10 / 20, 4 * 10 / 20], rel=1e-8)


@pytest.mark.parametrize("a, b", [(1.0, 2.426), (40.0, 0.3), (0.002, 565.0)])
def test_expected_purchases_match_the_posterior_integral_at_awkward_parameters(a: float, b: float) -> None:
    """a = 1 (0/0 in the closed form), a large against b, and a tiny a as on the sample."""
    model = _beta_geo(r=0.243, alpha=4.414, a=a, b=b)
    for x, t_x, T, t in [(0, 0.0, 38.0, 39.0), (3, 20.0, 30.0, 52.0)]:
        expected = _posterior_expectation(model, t, x, t_x, T)
        assert model.expected_purchases(t, [x], [t_x], [T])[0] == pytest.approx(expected, rel=1e-8)


def test_expected_purchases_given_active_by_hand() -> None:
    # b_posterior -> infinity (p = 0, no dropout): E = shape * horizon; no time: 0
    never_drop = expected_purchases_given_active([2.5, 2.5], [1e15, 1e15], 1.0, [0.4, 0.0])
    assert never_drop.tolist() == pytest.approx([1.0, 0.0], rel=1e-12)
    # a -> infinity (p = 1: the next purchase is the last): E = P(M >= 1) = 1 - (1 + horizon)^-shape
    assert expected_purchases_given_active([2.0], [1.0], 1e15, [1.0])[0] == pytest.approx(0.75, rel=1e-12)


def test_expected_purchases_refuse_a_degenerate_fit_instead_of_looping() -> None:
    with pytest.raises(SegrecError, match="more than max_terms .1000. purchase terms for 1 customer"):
        _beta_geo(r=2.0, alpha=1e-9, a=0.5, b=3.0).expected_purchases(90.0, [0], [0.0], [0.0], max_terms=1000)


def test_median_time_to_next_purchase_halves_the_survival(published_model: BetaGeoModel) -> None:
    r, alpha = PUBLISHED_BGNBD["r"], PUBLISHED_BGNBD["alpha"]
    x, T = np.array([0.0, 1.0, 8.0]), np.array([30.0, 10.0, 38.0])
    wait = published_model.median_time_to_next_purchase(x, T)
    survival = ((alpha + T) / (alpha + T + wait)) ** (r + x)
    assert survival == pytest.approx([0.5, 0.5, 0.5], abs=1e-12)
    assert wait[2] < wait[1] < wait[0]  # more purchases -> higher rate -> shorter wait


def test_bgnbd_recovers_simulated_parameters() -> None:
    T = np.random.default_rng(100).uniform(26.0, 52.0, 10000)
    data = simulate_beta_geo(**PUBLISHED_BGNBD, T=T, random_state=4)
    model = BetaGeoModel().fit(data["frequency"], data["recency"], data["T"])
    for name, tolerance in {"r": 0.05, "alpha": 0.08, "a": 0.20, "b": 0.20}.items():
        assert model.params_[name] == pytest.approx(PUBLISHED_BGNBD[name], rel=tolerance), name
    assert model.n_customers_ == 10000
    # a penalty shrinks log parameters towards 0 and lowers the likelihood (on a subset, for speed)
    subset = data.iloc[:2000]
    plain = BetaGeoModel().fit(subset["frequency"], subset["recency"], subset["T"])
    penalized = BetaGeoModel(penalizer=0.1).fit(subset["frequency"], subset["recency"], subset["T"])
    assert penalized.log_likelihood_ < plain.log_likelihood_
    assert abs(math.log(penalized.params_["alpha"])) < abs(math.log(plain.params_["alpha"]))


def test_gamma_gamma_recovers_simulated_parameters() -> None:
    frequency = np.random.default_rng(7).integers(1, 15, 6000).astype(float)
    spend = simulate_gamma_gamma(**PUBLISHED_GAMMA_GAMMA, frequency=frequency, random_state=8)
    model = GammaGammaModel().fit(frequency, spend)
    p, q, gamma = PUBLISHED_GAMMA_GAMMA.values()
    assert model.params_["q"] == pytest.approx(q, rel=0.05)
    assert model.params_["p"] == pytest.approx(p, rel=0.25)  # p and gamma trade off against each other
    population_mean = model.expected_average_value([0.0], [0.0])[0]
    assert population_mean == pytest.approx(p * gamma / (q - 1), rel=0.03)


def test_expected_average_value_shrinks_towards_the_population_mean() -> None:
    model = GammaGammaModel()
    model.params_ = dict(PUBLISHED_GAMMA_GAMMA)
    p, q, gamma = PUBLISHED_GAMMA_GAMMA.values()
    prior = p * gamma / (q - 1)  # 35.07
    values = model.expected_average_value([0, 1, 10, 1000], [0.0, 100.0, 100.0, 100.0])
    assert values[0] == pytest.approx(prior)
    # p (gamma + x m) / (p x + q - 1): weight on the own mean grows with x
    assert values[1] == pytest.approx(6.25 * 115.44 / 8.99)
    assert prior < values[1] < values[2] < values[3] < 100.0


def test_expected_average_value_without_a_finite_population_mean() -> None:
    """q <= 1: p gamma / (q-1) does not exist. Customers keep p (gamma + x m) / (p x + q - 1)
    while p x + q > 1; the others get the fitted customers' mean, sample_mean_value_."""
    model = GammaGammaModel()
    model.params_ = {"p": 0.2, "q": 0.5, "gamma": 10.0}
    with pytest.raises(SegrecError, match="no finite mean.*call fit"):
        model.expected_average_value([0], [0.0])
    model.sample_mean_value_ = 50.0
    assert model.population_mean_value() == 50.0
    # p x + q = 0.5, 0.7, 0.9 -> the mean 50; x = 3: 1.1 -> 0.2 (10 + 60) / 0.1 = 140
    values = model.expected_average_value([0, 1, 2, 3], [0.0, 30.0, 40.0, 20.0])
    assert values.tolist() == pytest.approx([50.0, 50.0, 50.0, 140.0], rel=1e-12)
    model.params_["p"] = 4.0  # p x + q > 1 for every repeat buyer: 4 (10 + 30) / 3.5
    assert model.expected_average_value([0, 1], [0.0, 30.0]).tolist() == pytest.approx([50.0, 320 / 7], rel=1e-12)
    model.params_["q"] = 3.0  # a finite mean again: p gamma / (q - 1), the sample mean no longer used
    assert model.population_mean_value() == pytest.approx(20.0, rel=1e-12)


def test_heavy_tailed_spend_gets_finite_values_for_everybody() -> None:
    """Mean spend over four orders of magnitude: the fit has q <= 1 (q = 1 + exp(theta) would only
    push q to 1 and the population mean to infinity); predictions stay finite."""
    i = np.arange(60)
    x = (1 + i % 5).astype(float)
    m = (10.0 + i) * 10.0 ** (i % 4)
    value = GammaGammaModel().fit(x, m)
    assert value.params_["q"] <= 1
    assert value.sample_mean_value_ == value.population_mean_value() == pytest.approx(m.mean(), rel=1e-12)
    summary = pd.DataFrame({"customer_key": ["new", "repeat"], "frequency": [0.0, 2.0], "recency": [0.0, 20.0],
                            "T": [30.0, 40.0], "monetary_value": [0.0, 75.0]})
    predictions = predict_customer_value(summary, _beta_geo(0.5, 30.0, 0.8, 3.0), value, as_of="2024-06-30")
    p, q, gamma = value.params_.values()
    average = [m.mean(), p * (gamma + 2 * 75.0) / (p * 2 + q - 1)]
    assert predictions["predicted_value_90d"].to_numpy() == pytest.approx(
        predictions["expected_purchases_90d"].to_numpy() * average, rel=1e-12
    )


def test_models_reject_bad_input_with_clear_errors() -> None:
    with pytest.raises(SegrecError, match="recency: must lie between 0 and T"):
        BetaGeoModel().fit([1, 2], [5.0, 9.0], [4.0, 10.0])
    with pytest.raises(SegrecError, match="frequency: must be a whole number"):
        BetaGeoModel().fit([1.5], [1.0], [2.0])
    with pytest.raises(SegrecError, match="no customer has a repeat purchase"):
        BetaGeoModel().fit([0, 0], [0.0, 0.0], [3.0, 4.0])
    with pytest.raises(SegrecError, match="frequency: 1 missing"):
        BetaGeoModel().fit([np.nan, 1], [0.0, 0.5], [3.0, 4.0])
    with pytest.raises(SegrecError, match="not fitted"):
        BetaGeoModel().probability_alive([0], [0.0], [1.0])
    with pytest.raises(SegrecError, match="monetary_value > 0"):
        GammaGammaModel().fit([1, 2], [10.0, 0.0])


# ---------------------------------------------------------------------------------------
# summary, predictions


@pytest.fixture
def order_log() -> pd.DataFrame:
    return pd.DataFrame({
        "customer_key": ["a", "a", "a", "a", "b", "c", "a", "b", "a"],
        "event_time": [
            "2024-01-01T08:00:00", "2024-01-01T19:00:00",  # same day: one purchase of 15
            "2024-01-08T10:00:00", "2024-01-14T23:30:00-02:00",  # 2024-01-15 in UTC
            "2024-01-10T00:00:00",
            "2024-02-05T00:00:00",  # first purchase in the hold-out: not in the summary
            "2024-02-01T12:00:00", "2024-02-20T00:00:00",  # hold-out purchases
            "2024-03-05T00:00:00",  # after the observation end: ignored
        ],
        "revenue": [10.0, 5.0, 20.0, 30.0, 50.0, 70.0, 8.0, 12.0, 99.0],
    })


def test_summarize_transactions_by_hand(order_log: pd.DataFrame) -> None:
    summary = summarize_transactions(
        order_log, observation_end="2024-02-29", calibration_end="2024-01-28", freq="W"
    )
    assert summary["customer_key"].tolist() == ["a", "b"]
    a, b = summary.iloc[0], summary.iloc[1]
    # a: purchase days Jan 1, Jan 8, Jan 15 -> 2 repeats, recency 2 weeks, T = 27 days
    assert (a["frequency"], a["recency"], a["T"], a["monetary_value"]) == (2.0, 2.0, 27 / 7, 25.0)
    assert (b["frequency"], b["recency"], b["T"], b["monetary_value"]) == (0.0, 0.0, 18 / 7, 0.0)
    assert summary["frequency_holdout"].tolist() == [1.0, 1.0]
    assert summary["monetary_value_holdout"].tolist() == [8.0, 12.0]
    assert summary["duration_holdout"].tolist() == [32 / 7, 32 / 7]  # Jan 29 .. Feb 29

    whole = summarize_transactions(order_log, observation_end="2024-02-29", value=None)
    assert whole["customer_key"].tolist() == ["a", "b", "c"]
    assert whole["frequency"].tolist() == [3.0, 1.0, 0.0]
    assert whole["T"].tolist() == [59.0, 50.0, 24.0]
    assert "monetary_value" not in whole.columns


def test_summarize_transactions_rejects_bad_input(order_log: pd.DataFrame) -> None:
    with pytest.raises(SegrecError, match="transactions: missing column"):
        summarize_transactions(order_log.drop(columns="revenue"), observation_end="2024-02-29")
    with pytest.raises(SegrecError, match="transactions.event_time"):
        summarize_transactions(order_log.assign(event_time="not a date"), observation_end="2024-02-29")
    with pytest.raises(SegrecError, match="freq"):
        summarize_transactions(order_log, observation_end="2024-02-29", freq="M")
    with pytest.raises(SegrecError, match="calibration_end: must not be after"):
        summarize_transactions(order_log, observation_end="2024-01-01", calibration_end="2024-02-01")


def test_predict_customer_value_frame() -> None:
    T = np.random.default_rng(1).uniform(20.0, 300.0, 1500)
    summary = simulate_beta_geo(r=0.5, alpha=30.0, a=0.8, b=3.0, T=T, random_state=2)
    spend = simulate_gamma_gamma(6.0, 4.0, 20.0, summary["frequency"].clip(lower=1), random_state=3)
    summary = summary.assign(
        customer_key=[f"k{i}" for i in range(len(summary))],
        monetary_value=np.where(summary["frequency"] > 0, spend, 0.0),
    )
    transactions, value = fit_customer_value(summary)
    predictions = predict_customer_value(summary, transactions, value, as_of="2024-06-30", freq="D")

    assert predictions.columns.tolist() == [
        "customer_key", "expected_purchases_90d", "probability_active", "predicted_value_90d",
        "expected_next_order_date", "churn_risk_band", "model_version",
    ]
    assert predictions["customer_key"].tolist() == summary["customer_key"].tolist()
    rfm = summary["frequency"], summary["recency"], summary["T"]
    expected_90d = transactions.expected_purchases(90.0, *rfm)
    assert predictions["expected_purchases_90d"].to_numpy() == pytest.approx(expected_90d)
    average = value.expected_average_value(summary["frequency"], summary["monetary_value"])
    assert predictions["predicted_value_90d"].to_numpy() == pytest.approx(expected_90d * average)
    bands = predictions.groupby("churn_risk_band")["probability_active"].agg(["min", "max"])
    assert bands.loc["high", "max"] < 0.3 <= bands.loc["medium", "min"]
    assert bands.loc["medium", "max"] < 0.7 <= bands.loc["low", "min"]
    dates = pd.to_datetime(predictions["expected_next_order_date"])
    assert (dates.dropna() > pd.Timestamp("2024-06-30")).all()
    assert (dates.dropna() <= pd.Timestamp("2024-06-30") + pd.Timedelta(days=3650)).all()
    assert predictions["model_version"].nunique() == 1
    again = predict_customer_value(summary, *fit_customer_value(summary), as_of="2024-06-30")
    pd.testing.assert_frame_equal(predictions, again)  # same input, same output and version


def test_churn_risk_band_thresholds() -> None:
    assert churn_risk_band([0.0, 0.29, 0.3, 0.69, 0.7, 1.0]).tolist() == [
        "high", "high", "medium", "medium", "low", "low"
    ]
    assert churn_risk_band([0.5], thresholds=(0.6, 0.9)).tolist() == ["high"]
    with pytest.raises(SegrecError, match="thresholds"):
        churn_risk_band([0.5], thresholds=(0.8, 0.2))


# ---------------------------------------------------------------------------------------
# CDNOW validation (needs ../shared/datasets)


CDNOW = datasets_dir() / "cdnow_lifetimes"
needs_cdnow = pytest.mark.skipif(
    not (CDNOW / "CDNOW_sample.txt.gz").is_file(),
    reason=f"CDNOW files not found in {CDNOW} (set SEGREC_DATASETS to the shared datasets folder)",
)


def _cdnow_summary(sample: bool) -> pd.DataFrame:
    if sample:
        orders = pd.read_csv(
            CDNOW / "CDNOW_sample.txt.gz", sep=r"\s+", header=None, dtype=str,
            names=["customer_id", "sample_id", "date", "number_of_cds", "dollar_value"],
        )
    else:
        orders = pd.read_csv(CDNOW / "CDNOW_master.csv.gz", dtype={"customer_id": str, "date": str})
    orders["order_date"] = pd.to_datetime(orders["date"], format="%Y%m%d")
    # weeks 1-39 of 1997 calibrate, weeks 40-78 (to 1998-06-30) are the hold-out
    return summarize_transactions(
        orders, "customer_id", "order_date", "dollar_value",
        observation_end="1998-06-30", calibration_end="1997-09-30", freq="W",
    )


@pytest.mark.real_data
@needs_cdnow
def test_cdnow_sample_reproduces_published_parameters() -> None:
    summary = _cdnow_summary(sample=True)
    assert len(summary) == 2357
    model = BetaGeoModel().fit(summary["frequency"], summary["recency"], summary["T"])
    for name, published in PUBLISHED_BGNBD.items():
        assert model.params_[name] == pytest.approx(published, rel=2e-3), name
    assert model.log_likelihood_ == pytest.approx(-9582.4, abs=0.1)  # as published

    spenders = summary[summary["frequency"] > 0]
    assert len(spenders) == 946
    value = GammaGammaModel().fit(spenders["frequency"], spenders["monetary_value"])
    for name, published in PUBLISHED_GAMMA_GAMMA.items():
        assert value.params_[name] == pytest.approx(published, rel=2e-3), name

    table = holdout_comparison(summary, model).set_index("frequency")
    assert table.loc["total", "actual"] == 1882
    assert table.loc["total", "predicted"] == pytest.approx(1653.4, abs=0.5)
    assert table.loc["total", "customers"] == table.drop(index="total")["customers"].sum()


@pytest.mark.real_data
@needs_cdnow
def test_cdnow_master_file_parameters() -> None:
    """The full cohort (23,570) gives close but not identical parameters: the published ones
    come from the 1/10 sample. Values to two significant figures, see docs/customer-value.md."""
    summary = _cdnow_summary(sample=False)
    assert len(summary) == 23570
    model = BetaGeoModel().fit(summary["frequency"], summary["recency"], summary["T"])
    two_figures = {name: float(f"{value:.2g}") for name, value in model.params_.items()}
    assert two_figures == {"r": 0.25, "alpha": 4.8, "a": 0.72, "b": 2.2}
    table = holdout_comparison(summary, model).set_index("frequency")
    assert table.loc["total", "actual"] == 19684
    assert table.loc["total", "predicted"] == pytest.approx(16873.8, abs=1.0)
