"""Predictive customer value: BG/NBD for repeat purchases, Gamma-Gamma for spend.

Three steps, each a plain function or estimator on pandas/numpy/scipy:

1. :func:`summarize_transactions` turns an order log into the per-customer summary the
   models need: ``frequency`` (repeat purchase days), ``recency`` (time from the first to the
   last purchase), ``T`` (time from the first purchase to the end of the period) and
   ``monetary_value`` (mean value of the repeat purchases). Note that this ``recency`` is the
   BG/NBD quantity (first to last purchase), not the RFM recency of ``customer_features``
   (time since the last purchase).
2. :class:`BetaGeoModel` (Fader, Hardie & Lee 2005, "Counting your customers the easy way")
   and :class:`GammaGammaModel` (Fader & Hardie 2013, "The Gamma-Gamma model of monetary
   value") are fitted by maximum likelihood with ``scipy.optimize`` on log parameters.
3. :func:`predict_customer_value` produces the ``customer_predictions`` mart.

``docs/customer-value.md`` has the model summary and the CDNOW validation figures.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray
from scipy import optimize, special

from segrec.errors import SegrecError

# Days per unit of time; every duration in a summary is expressed in this unit.
TIME_UNITS: dict[str, float] = {"D": 1.0, "W": 7.0}
CHURN_RISK_BANDS: tuple[str, str, str] = ("low", "medium", "high")
# The mart's horizon: its column names say 90 days.
HORIZON_DAYS = 90.0


# ---------------------------------------------------------------------------------------
# input checks shared by the estimators


def _float_array(values: ArrayLike, name: str) -> NDArray[np.float64]:
    array = np.asarray(values, dtype=float).ravel()
    if not np.all(np.isfinite(array)):
        raise SegrecError(f"{name}: {int((~np.isfinite(array)).sum())} missing or infinite value(s)")
    return array


def _check_rfm(
    frequency: ArrayLike, recency: ArrayLike, T: ArrayLike
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    """Validate a (frequency, recency, T) summary and return it as float arrays."""
    x, t_x, age = (_float_array(v, n) for v, n in ((frequency, "frequency"), (recency, "recency"), (T, "T")))
    if not (x.shape == t_x.shape == age.shape):
        raise SegrecError(f"frequency, recency and T differ in length: {x.size}, {t_x.size}, {age.size}")
    if np.any(x < 0) or np.any(x != np.round(x)):
        raise SegrecError("frequency: must be a whole number of repeat purchases >= 0")
    if np.any(t_x < 0) or np.any(t_x > age):
        raise SegrecError("recency: must lie between 0 and T (time from first to last purchase)")
    if np.any((x == 0) & (t_x != 0)):
        raise SegrecError("recency: must be 0 for customers with frequency 0")
    return x, t_x, age


# ---------------------------------------------------------------------------------------
# maximum likelihood on log parameters, shared by both models


def _fit_log_params(
    negative_loglik: Callable[[NDArray[np.float64]], float],
    start: NDArray[np.float64],
    penalizer: float,
    n_weight: float,
    model: str,
) -> tuple[NDArray[np.float64], float]:
    """Minimise mean negative log-likelihood + ``penalizer * ||log params||^2``.

    Log parameters keep every parameter positive without bounds; the penalty shrinks them
    towards 1 (log 0) and is off by default. Returns (params, total log-likelihood).
    """

    def objective(log_params: NDArray[np.float64]) -> float:
        value = negative_loglik(np.exp(log_params)) / n_weight + penalizer * float(log_params @ log_params)
        # A non-finite value (overflow far from the optimum) must look bad, not crash BFGS.
        return value if np.isfinite(value) else 1e300

    result = optimize.minimize(
        objective, start, method="L-BFGS-B", options={"maxiter": 2000, "ftol": 1e-13, "gtol": 1e-9}
    )
    if not result.success:
        # L-BFGS-B sometimes stops on a line search it cannot improve; Nelder-Mead polishes.
        result = optimize.minimize(
            objective, result.x, method="Nelder-Mead",
            options={"maxiter": 20000, "xatol": 1e-10, "fatol": 1e-12},
        )
    if not np.all(np.isfinite(result.x)) or result.fun >= 1e300:
        raise SegrecError(f"{model}: maximum likelihood did not converge ({result.message})")
    params = np.exp(result.x)
    return params, -float(negative_loglik(params))


def _unique_rows(
    *columns: NDArray[np.float64],
) -> tuple[tuple[NDArray[np.float64], ...], NDArray[np.float64]]:
    """Distinct rows and their counts: many customers share a summary, so fit on those."""
    rows, counts = np.unique(np.column_stack(columns), axis=0, return_counts=True)
    return tuple(rows.T), counts.astype(float)


# ---------------------------------------------------------------------------------------
# BG/NBD


@dataclass(frozen=True)
class _BetaGeoParams:
    r: float
    alpha: float
    a: float
    b: float


def bgnbd_log_likelihood(
    params: Sequence[float], frequency: ArrayLike, recency: ArrayLike, T: ArrayLike
) -> NDArray[np.float64]:
    """Per-customer BG/NBD log-likelihood (Fader, Hardie & Lee 2005), in log space.

    ``L = B(a, b+x)/B(a, b) * G(r+x) a^r / (G(r) (alpha+T)^(r+x))
    + [x > 0] B(a+1, b+x-1)/B(a, b) * G(r+x) alpha^r / (G(r) (alpha+t_x)^(r+x))``.
    """
    r, alpha, a, b = params
    x, t_x, age = (np.asarray(v, dtype=float) for v in (frequency, recency, T))
    common = special.gammaln(r + x) - special.gammaln(r) + r * np.log(alpha) - special.betaln(a, b)
    still_alive = special.betaln(a, b + x) - (r + x) * np.log(alpha + age)
    # b + x - 1 is only used where x >= 1; the max keeps betaln's argument valid elsewhere.
    dropped_out = np.where(
        x > 0,
        special.betaln(a + 1, b + np.maximum(x, 1) - 1) - (r + x) * np.log(alpha + t_x),
        -np.inf,
    )
    return common + np.logaddexp(still_alive, dropped_out)


class BetaGeoModel:
    """BG/NBD model of repeat purchases (Fader, Hardie & Lee 2005).

    While active, a customer buys as a Poisson process with rate ``lambda ~ Gamma(r, alpha)``;
    after each repeat purchase they drop out with probability ``p ~ Beta(a, b)``. Durations
    (``recency``, ``T``, ``t``) are in the unit of the summary (days or weeks).

    Parameters
    ----------
    penalizer : L2 penalty on the log parameters (0 = plain maximum likelihood).

    Attributes
    ----------
    params_ : dict with ``r``, ``alpha``, ``a``, ``b``.
    log_likelihood_ : total log-likelihood at ``params_``.
    n_customers_ : number of customers fitted.
    """

    def __init__(self, penalizer: float = 0.0) -> None:
        self.penalizer = penalizer

    def fit(self, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike) -> BetaGeoModel:
        """Fit by maximum likelihood; returns ``self``."""
        x, t_x, age = _check_rfm(frequency, recency, T)
        if x.size == 0:
            raise SegrecError("BetaGeoModel.fit: no customers")
        if not np.any(x > 0):
            raise SegrecError("BetaGeoModel.fit: no customer has a repeat purchase, dropout is unidentified")
        if self.penalizer < 0:
            raise SegrecError(f"penalizer: must be >= 0, got {self.penalizer}")
        (ux, ut_x, uage), counts = _unique_rows(x, t_x, age)

        def negative_loglik(params: NDArray[np.float64]) -> float:
            return -float(counts @ bgnbd_log_likelihood(params, ux, ut_x, uage))

        # Start: rate = purchases per unit of time, a neutral Beta(1, 1) dropout.
        start = np.log([1.0, max(float(age.mean()), 1e-3) / max(float(x.mean()), 1e-3), 1.0, 1.0])
        params, self.log_likelihood_ = _fit_log_params(
            negative_loglik, start, self.penalizer, x.size, "BG/NBD"
        )
        self.params_ = {"r": float(params[0]), "alpha": float(params[1]), "a": float(params[2]),
                        "b": float(params[3])}
        self.n_customers_ = int(x.size)
        return self

    def _fitted(self) -> _BetaGeoParams:
        if not hasattr(self, "params_"):
            raise SegrecError("BetaGeoModel is not fitted: call fit() first")
        return _BetaGeoParams(**self.params_)

    def _log_odds_dropped(
        self, x: NDArray[np.float64], t_x: NDArray[np.float64], age: NDArray[np.float64]
    ) -> NDArray[np.float64]:
        """log of ``a/(b+x-1) * ((alpha+T)/(alpha+t_x))^(r+x)`` (-inf when x = 0)."""
        p = self._fitted()
        with np.errstate(divide="ignore"):
            log_odds = (
                np.log(p.a) - np.log(p.b + np.maximum(x, 1) - 1)
                + (p.r + x) * (np.log(p.alpha + age) - np.log(p.alpha + t_x))
            )
        return np.where(x > 0, log_odds, -np.inf)

    def probability_alive(
        self, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike
    ) -> NDArray[np.float64]:
        """P(still active at T | x, t_x, T) (Fader, Hardie & Lee 2005).

        ``1 / (1 + [x > 0] a/(b+x-1) ((alpha+T)/(alpha+t_x))^(r+x))``: exactly 1 for a customer
        without repeat purchases, because the model lets customers drop out only right after
        a repeat purchase.
        """
        x, t_x, age = _check_rfm(frequency, recency, T)
        return special.expit(-self._log_odds_dropped(x, t_x, age))

    def expected_purchases(
        self, t: float, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike, *, max_terms: int = 100_000
    ) -> NDArray[np.float64]:
        """Expected number of purchases in the next ``t`` units (Fader, Hardie & Lee 2005).

        ``P(alive) * E[purchases | alive]``; the second factor is
        :func:`expected_purchases_given_active` (a sum of positive terms, finite and accurate
        for every finite parameter; ``max_terms`` as there).
        """
        t = float(t)
        if not np.isfinite(t) or t < 0:
            raise SegrecError(f"t: must be a duration >= 0, got {t!r}")
        x, t_x, age = _check_rfm(frequency, recency, T)
        p = self._fitted()
        given_active = expected_purchases_given_active(
            p.r + x, p.b + x, p.a, t / (p.alpha + age), max_terms=max_terms
        )
        return given_active * special.expit(-self._log_odds_dropped(x, t_x, age))

    def median_time_to_next_purchase(self, frequency: ArrayLike, T: ArrayLike) -> NDArray[np.float64]:
        """Median wait (from T) for the next purchase of a customer who is still active.

        Given active, the customer buys before dropping out (dropout follows purchases), so
        the wait is exponential with ``lambda | x, T ~ Gamma(r+x, alpha+T)``:
        ``P(W > w) = ((alpha+T)/(alpha+T+w))^(r+x)``. Its mean is infinite when
        ``r + x <= 1`` (typical for one-time buyers), so the median is used:
        ``(alpha+T) * (2^(1/(r+x)) - 1)``.
        """
        x = _float_array(frequency, "frequency")
        age = _float_array(T, "T")
        p = self._fitted()
        return (p.alpha + age) * np.expm1(np.log(2.0) / (p.r + x))


def expected_purchases_given_active(
    shape: ArrayLike, b_posterior: ArrayLike, a: float, horizon: ArrayLike, *, max_terms: int = 100_000
) -> NDArray[np.float64]:
    """E[purchases in the next ``t``] of a BG/NBD customer who is still active, as ``sum_j R_j S_j``.

    Given the history, the purchase rate is ``Gamma(shape = r+x, rate = alpha+T)`` and the
    dropout probability ``p ~ Beta(a, b_posterior = b+x)``; ``horizon`` is ``t / (alpha+T)``.
    Purchase ``j`` of the next ``t`` happens when the customer did not drop out after the
    ``j-1`` before it, ``R_j = E[(1-p)^(j-1)] = B(a, b+x+j-1) / B(a, b+x)``, and when the
    purchase process has ``j`` events in ``t``, ``S_j = P(M >= j)`` with ``M`` negative
    binomial (shape ``r+x``, odds ``horizon``). Every term lies in [0, 1], so the sum neither
    overflows nor cancels for any finite parameters; the closed form with Gauss' 2F1 overflows
    (NaN) when ``a`` is large and at ``a = 1``, and loses digits when ``b >> a`` (all of them for
    short horizons), because it multiplies ``1 - 2F1`` by ``(a+b+x-1)/(a-1)``. The terms follow by
    recurrences (in log space where they could underflow); the sum stops when a bound on the
    rest is below ``1e-14`` of it. The number of terms is about the purchases the customer
    would make without dropping out, plus their spread (tens to hundreds for daily or weekly
    summaries); more than ``max_terms`` means a degenerate fit (e.g. ``alpha`` near 0) and raises.
    """
    k, beta, w = (np.asarray(v, dtype=float).ravel() for v in np.broadcast_arrays(shape, b_posterior, horizon))
    total = np.zeros(k.size)
    rows = np.flatnonzero(w > 0)  # no time, no purchases
    k, beta, w = k[rows], beta[rows], w[rows]
    log_z = np.log(w) - np.log1p(w)  # negative binomial: P(M = m+1) / P(M = m) = z (k+m) / (m+1)
    log_pmf = -k * np.log1p(w)  # log P(M = 0)
    survival = -np.expm1(log_pmf)  # S_1 = P(M >= 1)
    log_r = np.zeros(k.size)  # log R_1
    partial = np.zeros(k.size)
    for j in range(1, max_terms + 1):
        partial += np.exp(log_r) * survival
        log_pmf += log_z + np.log(k + j - 1) - np.log(j)
        survival = np.maximum(survival - np.exp(log_pmf), 0.0)  # S_{j+1}
        log_r += np.log1p(-a / (a + beta + j - 1))  # R_{j+1}
        # The rest, sum_{i>j} R_i S_i, is at most R_{j+1} S_{j+1} times the smaller of
        # sum_{i>j} R_i / R_{j+1} = (a+b+x+j-1) / (a-1) (a > 1) and, once the negative
        # binomial's ratio rho is below 1, sum_{i>j} S_i / S_{j+1} <= 1 / (1 - rho).
        rho = np.exp(log_z) * np.maximum((k + j + 1) / (j + 2), 1.0)
        with np.errstate(divide="ignore"):
            factor = np.where(rho < 1, 1.0 / (1.0 - rho), np.inf)
        if a > 1:
            factor = np.minimum(factor, (a + beta + j - 1) / (a - 1))
        with np.errstate(invalid="ignore"):  # 0 * inf: nothing is left
            rest = np.where(survival > 0, np.exp(log_r) * survival * factor, 0.0)
        done = rest <= 1e-14 * partial
        if done.any():
            total[rows[done]] = partial[done]
            keep = ~done
            rows, k, beta, w, log_z, log_pmf, survival, log_r, partial = (
                v[keep] for v in (rows, k, beta, w, log_z, log_pmf, survival, log_r, partial)
            )
        if rows.size == 0:
            return total
    raise SegrecError(
        f"expected purchases: more than max_terms ({max_terms}) purchase terms for {rows.size} customer(s) "
        f"(up to {float(np.max(k * w)):.3g} purchases expected without dropout): degenerate BG/NBD parameters"
    )


def simulate_beta_geo(
    r: float, alpha: float, a: float, b: float, T: ArrayLike, random_state: int
) -> pd.DataFrame:
    """Draw (frequency, recency, T) from the BG/NBD process, one customer per value of ``T``.

    Uses that, given ``N`` Poisson arrivals in (0, T], the ``k``-th arrival time is
    ``T * Beta(k, N-k+1)``; a customer makes ``J ~ Geometric(p)`` repeat purchases before
    dropping out, so ``x = min(N, J)``.
    """
    rng = np.random.default_rng(random_state)
    age = _float_array(T, "T")
    rate = rng.gamma(r, 1.0 / alpha, size=age.size)
    dropout = rng.beta(a, b, size=age.size)
    arrivals = rng.poisson(rate * age)
    x = np.minimum(arrivals, rng.geometric(dropout))
    position = rng.beta(np.maximum(x, 1), np.maximum(arrivals - x, 0) + 1)
    recency = np.where(x > 0, age * position, 0.0)
    return pd.DataFrame({"frequency": x.astype(float), "recency": recency, "T": age})


# ---------------------------------------------------------------------------------------
# Gamma-Gamma


def gamma_gamma_log_likelihood(
    params: Sequence[float], frequency: ArrayLike, monetary_value: ArrayLike
) -> NDArray[np.float64]:
    """Per-customer Gamma-Gamma log-likelihood of the mean spend ``m`` over ``x`` purchases.

    ``f(m | p, q, gamma, x) = G(px+q) / (G(px) G(q)) * gamma^q m^(px-1) x^(px) / (gamma + x m)^(px+q)``
    (Fader & Hardie 2013).
    """
    p, q, gamma = params
    x, m = (np.asarray(v, dtype=float) for v in (frequency, monetary_value))
    px = p * x
    return (
        special.gammaln(px + q) - special.gammaln(px) - special.gammaln(q) + q * np.log(gamma)
        + (px - 1) * np.log(m) + px * np.log(x) - (px + q) * np.log(gamma + x * m)
    )


class GammaGammaModel:
    """Gamma-Gamma model of the mean purchase value (Fader & Hardie 2013).

    Each purchase value is ``Gamma(p, nu)``; ``nu ~ Gamma(q, gamma)`` across customers. It
    assumes spend is independent of purchase frequency (check the correlation before use).

    Attributes
    ----------
    params_ : dict with ``p``, ``q``, ``gamma``.
    log_likelihood_, n_customers_ : as for :class:`BetaGeoModel`.
    sample_mean_value_ : mean ``monetary_value`` of the customers fitted; it stands in for the
        population mean when the fitted model has none (``q <= 1``).
    """

    def __init__(self, penalizer: float = 0.0) -> None:
        self.penalizer = penalizer

    def fit(self, frequency: ArrayLike, monetary_value: ArrayLike) -> GammaGammaModel:
        """Fit on customers with repeat purchases (``frequency > 0``, ``monetary_value > 0``)."""
        x = _float_array(frequency, "frequency")
        m = _float_array(monetary_value, "monetary_value")
        if x.shape != m.shape:
            raise SegrecError(f"frequency and monetary_value differ in length: {x.size}, {m.size}")
        if x.size == 0:
            raise SegrecError("GammaGammaModel.fit: no customers")
        if np.any(x <= 0) or np.any(m <= 0):
            raise SegrecError(
                "GammaGammaModel.fit: needs frequency > 0 and monetary_value > 0 for every customer; "
                "select the customers with repeat purchases of positive value first"
            )
        if self.penalizer < 0:
            raise SegrecError(f"penalizer: must be >= 0, got {self.penalizer}")
        (ux, um), counts = _unique_rows(x, m)

        def negative_loglik(params: NDArray[np.float64]) -> float:
            return -float(counts @ gamma_gamma_log_likelihood(params, ux, um))

        start = np.log([1.0, 2.0, float(m.mean())])  # prior mean p*gamma/(q-1) = sample mean
        params, self.log_likelihood_ = _fit_log_params(
            negative_loglik, start, self.penalizer, x.size, "Gamma-Gamma"
        )
        self.params_ = {"p": float(params[0]), "q": float(params[1]), "gamma": float(params[2])}
        self.n_customers_ = int(x.size)
        self.sample_mean_value_ = float(m.mean())
        return self

    def population_mean_value(self) -> float:
        """Mean purchase value across customers, ``p gamma / (q - 1)``.

        With ``q <= 1`` the model has no finite mean (spend is too heavy-tailed across customers;
        pushing ``q`` just above 1 only makes this mean explode), so the mean ``monetary_value``
        of the customers fitted, ``sample_mean_value_``, stands in for it.
        """
        if not hasattr(self, "params_"):
            raise SegrecError("GammaGammaModel is not fitted: call fit() first")
        p, q, gamma = self.params_["p"], self.params_["q"], self.params_["gamma"]
        if q > 1:
            return p * gamma / (q - 1)
        if not hasattr(self, "sample_mean_value_"):
            raise SegrecError(f"Gamma-Gamma: q = {q:.3g} <= 1 (no finite mean) and no sample mean: call fit()")
        return self.sample_mean_value_

    def expected_average_value(self, frequency: ArrayLike, monetary_value: ArrayLike) -> NDArray[np.float64]:
        """E[purchase value | x, m] = ``p (gamma + x m) / (p x + q - 1)`` (Fader & Hardie 2013).

        A weighted mean of the population mean ``p gamma / (q - 1)`` and the customer's own
        mean ``m``; customers with ``x = 0`` get :meth:`population_mean_value`. Given ``x``
        purchases, ``nu ~ Gamma(q + p x, gamma + x m)``, whose ``1 / nu`` has a finite mean only
        when ``p x + q > 1``: so even with ``q <= 1`` repeat buyers keep this formula, and
        customers where it is infinite get :meth:`population_mean_value`.
        """
        if not hasattr(self, "params_"):
            raise SegrecError("GammaGammaModel is not fitted: call fit() first")
        p, q, gamma = self.params_["p"], self.params_["q"], self.params_["gamma"]
        x = _float_array(frequency, "frequency")
        m = _float_array(monetary_value, "monetary_value")
        finite = p * x + q > 1
        posterior = p * (gamma + x * m) / np.where(finite, p * x + q - 1, 1.0)
        if finite.all():
            return posterior
        return np.where(finite, posterior, self.population_mean_value())


def simulate_gamma_gamma(
    p: float, q: float, gamma: float, frequency: ArrayLike, random_state: int
) -> NDArray[np.float64]:
    """Draw each customer's mean of ``frequency`` purchase values from the Gamma-Gamma model.

    The mean of ``x`` Gamma(p, rate nu) values is Gamma(p x, rate x nu).
    """
    rng = np.random.default_rng(random_state)
    x = _float_array(frequency, "frequency")
    nu = rng.gamma(q, 1.0 / gamma, size=x.size)
    return rng.gamma(p * x, 1.0 / (x * nu))


# ---------------------------------------------------------------------------------------
# from an order log to the summary


def _days(timestamps: pd.Series | pd.Timestamp) -> pd.Series | pd.Timestamp:
    """Calendar day (naive, UTC) of a timestamp or a column of them."""
    return timestamps.floor("D") if isinstance(timestamps, pd.Timestamp) else timestamps.dt.floor("D")


def _to_naive_utc(values: pd.Series | object, name: str) -> pd.Series | pd.Timestamp:
    try:
        # ISO-8601 as in the raw contract; offsets are honoured, naive means UTC.
        parsed = pd.to_datetime(values, utc=True, format="ISO8601")
    except (ValueError, TypeError) as exc:
        raise SegrecError(f"{name}: cannot be read as a date/time ({exc})") from exc
    if isinstance(parsed, pd.Timestamp):
        return parsed.tz_localize(None)
    return parsed.dt.tz_localize(None)


def summarize_transactions(
    transactions: pd.DataFrame,
    customer_key: str = "customer_key",
    order_time: str = "event_time",
    value: str | None = "revenue",
    *,
    observation_end: object,
    calibration_end: object | None = None,
    freq: str = "D",
) -> pd.DataFrame:
    """Per-customer summary for :class:`BetaGeoModel` and :class:`GammaGammaModel`.

    Pass purchase orders (not returns). Orders are merged per calendar day (UTC) and their
    values summed; orders after ``observation_end`` are ignored. Both ends are inclusive
    dates. Durations are in days (``freq="D"``) or weeks of 7 days (``freq="W"``), counted
    from the first purchase day.

    Without ``calibration_end``: one row per customer with ``customer_key``, ``frequency``
    (purchase days after the first one), ``recency`` (first to last purchase day), ``T``
    (first purchase day to ``observation_end``) and, with ``value``, ``monetary_value``
    (mean value of the repeat purchase days, 0 without repeat purchases).

    With ``calibration_end``: the summary describes the calibration period up to
    ``calibration_end`` and gains ``frequency_holdout``, ``monetary_value_holdout`` (NaN
    without hold-out purchases) and ``duration_holdout`` for the days after it. Customers
    whose first purchase falls in the hold-out period are not in the result.
    """
    if freq not in TIME_UNITS:
        raise SegrecError(f"freq: expected one of {sorted(TIME_UNITS)}, got {freq!r}")
    needed = [customer_key, order_time] + ([value] if value is not None else [])
    missing = [c for c in needed if c not in transactions.columns]
    if missing:
        raise SegrecError(f"transactions: missing column(s) {', '.join(missing)}")
    if transactions[customer_key].isna().any():
        n_null = int(transactions[customer_key].isna().sum())
        raise SegrecError(f"transactions.{customer_key}: {n_null} null key(s)")

    end = _days(_to_naive_utc(observation_end, "observation_end"))
    cal_end = end if calibration_end is None else _days(_to_naive_utc(calibration_end, "calibration_end"))
    if cal_end > end:
        raise SegrecError("calibration_end: must not be after observation_end")

    orders = pd.DataFrame({
        "customer_key": transactions[customer_key].to_numpy(),
        "day": _days(_to_naive_utc(transactions[order_time], f"transactions.{order_time}")).to_numpy(),
        "value": (pd.to_numeric(transactions[value], errors="coerce") if value is not None else 0.0),
    })
    if orders["day"].isna().any():
        raise SegrecError(f"transactions.{order_time}: {int(orders['day'].isna().sum())} missing time(s)")
    if value is not None and orders["value"].isna().any():
        n_bad = int(orders["value"].isna().sum())
        raise SegrecError(f"transactions.{value}: {n_bad} missing or non-numeric value(s)")

    days = (
        orders[orders["day"] <= end]
        .groupby(["customer_key", "day"], sort=True, as_index=False)["value"].sum()
    )
    first_day = days.groupby("customer_key")["day"].transform("min")
    days = days[first_day <= cal_end].assign(first_day=first_day)
    unit = pd.Timedelta(days=TIME_UNITS[freq])
    calibration = days[days["day"] <= cal_end]
    repeat = calibration["day"] > calibration["first_day"]

    per_customer = calibration.groupby("customer_key", sort=True)
    summary = pd.DataFrame({
        "frequency": per_customer.size() - 1,
        "recency": (per_customer["day"].max() - per_customer["first_day"].min()) / unit,
        "T": (cal_end - per_customer["first_day"].min()) / unit,
    })
    summary["frequency"] = summary["frequency"].astype(float)
    if value is not None:
        mean_repeat = calibration[repeat].groupby("customer_key")["value"].mean()
        summary["monetary_value"] = mean_repeat.reindex(summary.index).fillna(0.0)
    if calibration_end is not None:
        holdout = days[days["day"] > cal_end].groupby("customer_key")
        summary["frequency_holdout"] = holdout.size().reindex(summary.index).fillna(0).astype(float)
        if value is not None:
            summary["monetary_value_holdout"] = holdout["value"].mean().reindex(summary.index)
        summary["duration_holdout"] = (end - cal_end) / unit
    summary.index.name = "customer_key"
    return summary.reset_index()


# ---------------------------------------------------------------------------------------
# the customer_predictions mart


def fit_customer_value(
    summary: pd.DataFrame, penalizer: float = 0.0
) -> tuple[BetaGeoModel, GammaGammaModel]:
    """Fit BG/NBD on every customer and Gamma-Gamma on those with repeat purchases of positive value."""
    _require_columns(summary, ("frequency", "recency", "T", "monetary_value"))
    transactions = BetaGeoModel(penalizer).fit(summary["frequency"], summary["recency"], summary["T"])
    spenders = summary[(summary["frequency"] > 0) & (summary["monetary_value"] > 0)]
    if spenders.empty:
        raise SegrecError("summary: no customer with repeat purchases of positive value for Gamma-Gamma")
    value = GammaGammaModel(penalizer).fit(spenders["frequency"], spenders["monetary_value"])
    return transactions, value


def _require_columns(frame: pd.DataFrame, columns: Sequence[str], table: str = "summary") -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise SegrecError(f"{table}: missing column(s) {', '.join(missing)}")


def churn_risk_band(probability_active: ArrayLike, thresholds: tuple[float, float] = (0.3, 0.7)) -> NDArray:
    """``high`` below ``thresholds[0]``, ``low`` at or above ``thresholds[1]``, else ``medium``."""
    low, high = thresholds
    if not 0 <= low <= high <= 1:
        raise SegrecError(f"thresholds: need 0 <= low <= high <= 1, got {thresholds}")
    prob = _float_array(probability_active, "probability_active")
    risk_low, risk_medium, risk_high = CHURN_RISK_BANDS
    return np.select([prob < low, prob >= high], [risk_high, risk_low], default=risk_medium)


def model_version_of(transactions: BetaGeoModel, value: GammaGammaModel) -> str:
    """A short, deterministic version string from the fitted parameters."""
    params = {**transactions.params_, **value.params_}
    text = ",".join(f"{k}={v:.6g}" for k, v in params.items())
    return "bgnbd-gg-" + hashlib.sha256(text.encode()).hexdigest()[:10]


def predict_customer_value(
    summary: pd.DataFrame,
    transactions: BetaGeoModel,
    value: GammaGammaModel,
    *,
    as_of: object,
    freq: str = "D",
    churn_thresholds: tuple[float, float] = (0.3, 0.7),
    max_next_order_days: float = 3650.0,
    model_version: str | None = None,
) -> pd.DataFrame:
    """The ``customer_predictions`` mart: one row per customer of ``summary``.

    ``summary`` is a :func:`summarize_transactions` result whose period ends at ``as_of``
    with time unit ``freq``. Columns: ``customer_key``, ``expected_purchases_90d`` (purchases
    in the next 90 days), ``probability_active``, ``predicted_value_90d`` (expected
    purchases x expected purchase value; customers without a usable repeat spend get the
    population mean value), ``expected_next_order_date`` (``as_of`` + the median wait of
    :meth:`BetaGeoModel.median_time_to_next_purchase`, null beyond ``max_next_order_days``),
    ``churn_risk_band`` and ``model_version`` (default: :func:`model_version_of`).
    """
    if freq not in TIME_UNITS:
        raise SegrecError(f"freq: expected one of {sorted(TIME_UNITS)}, got {freq!r}")
    _require_columns(summary, ("customer_key", "frequency", "recency", "T", "monetary_value"))
    unit_days = TIME_UNITS[freq]
    x, t_x, age = summary["frequency"], summary["recency"], summary["T"]
    purchases = transactions.expected_purchases(HORIZON_DAYS / unit_days, x, t_x, age)
    alive = transactions.probability_alive(x, t_x, age)
    # Spend only counts where there is a positive repeat mean; others get the population mean.
    usable = (x > 0) & (summary["monetary_value"] > 0)
    average_value = value.expected_average_value(
        x.where(usable, 0.0), summary["monetary_value"].where(usable, 0.0)
    )
    wait_days = transactions.median_time_to_next_purchase(x, age) * unit_days
    as_of_day = _days(_to_naive_utc(as_of, "as_of"))
    # Whole days, so a wait of 0.2 days lands on the next day, not on as_of itself.
    wait = pd.to_timedelta(np.where(wait_days <= max_next_order_days, np.ceil(wait_days), np.nan), unit="D")
    next_order = pd.Series(as_of_day + wait, index=summary.index)
    return pd.DataFrame({
        "customer_key": summary["customer_key"],
        "expected_purchases_90d": purchases,
        "probability_active": alive,
        "predicted_value_90d": purchases * average_value,
        "expected_next_order_date": next_order.dt.date,
        "churn_risk_band": churn_risk_band(alive, churn_thresholds),
        "model_version": model_version or model_version_of(transactions, value),
    }).reset_index(drop=True)


def holdout_comparison(
    summary: pd.DataFrame, transactions: BetaGeoModel, max_frequency: int = 7
) -> pd.DataFrame:
    """Predicted vs actual hold-out purchases by calibration frequency (0 .. ``max_frequency``+).

    ``summary`` comes from :func:`summarize_transactions` with a ``calibration_end``. One row
    per frequency group plus ``total``: ``customers``, ``actual`` and ``predicted`` purchases
    (sums) and their means per customer.
    """
    _require_columns(summary, ("frequency", "recency", "T", "frequency_holdout", "duration_holdout"))
    if summary["duration_holdout"].nunique() != 1:
        raise SegrecError("summary.duration_holdout: expected one hold-out length for all customers")
    predicted = transactions.expected_purchases(
        summary["duration_holdout"].iloc[0], summary["frequency"], summary["recency"], summary["T"]
    )
    capped = summary["frequency"].clip(upper=max_frequency).astype(int)
    labels = capped.astype(str).where(capped < max_frequency, f"{max_frequency}+")
    frame = pd.DataFrame({"group": labels, "actual": summary["frequency_holdout"], "predicted": predicted})
    order = [str(k) for k in range(max_frequency)] + [f"{max_frequency}+"]
    groups = frame.groupby("group").agg(
        customers=("actual", "size"), actual=("actual", "sum"), predicted=("predicted", "sum")
    ).reindex(order).dropna(how="all")
    groups.loc["total"] = [len(frame), frame["actual"].sum(), frame["predicted"].sum()]
    groups["customers"] = groups["customers"].astype(int)
    groups["actual_mean"] = groups["actual"] / groups["customers"]
    groups["predicted_mean"] = groups["predicted"] / groups["customers"]
    groups.index.name = "frequency"
    return groups.reset_index()


# Columns of the customer_value_scores model (customer_predictions reads them).
SCORE_COLUMNS: dict[str, str] = {
    "customer_key": "object", "as_of_date": "datetime64[s]", "repeat_purchase_days": "float64",
    "days_since_first_purchase": "float64", "days_first_to_last_purchase": "float64",
    "days_to_second_purchase": "float64", "avg_repeat_value": "float64", "expected_purchases_90d": "float64",
    "probability_active": "float64", "predicted_value_90d": "float64", "expected_next_order_date": "datetime64[s]",
    "churn_risk_band": "object", "model_version": "object", "model_parameters": "object",
}


def score_customers(
    purchase_days: pd.DataFrame,
    as_of: pd.Timestamp,
    *,
    min_repeat_customers: int = 20,
    churn_thresholds: tuple[float, float] = (0.3, 0.7),
) -> tuple[pd.DataFrame, str | None]:
    """Customer value scores from one row per (customer_key, purchase_day, purchase_value,
    days_to_second_purchase) up to ``as_of``, as in the model int_customers__purchase_days.

    Returns the frame (``SCORE_COLUMNS``) and a message explaining an empty or partial result:
    no purchases (``as_of`` may then be NaT), fewer than ``min_repeat_customers`` repeat buyers,
    or models that cannot be fitted give an empty frame; a spend model without a finite
    population mean (Gamma-Gamma q <= 1) values customers without a repeat value at the fitted
    customers' mean (:meth:`GammaGammaModel.population_mean_value`). Bad ``churn_thresholds`` raise.
    """
    churn_risk_band([], churn_thresholds)  # bad configuration fails here, not as "no usable model"
    empty = pd.DataFrame({column: pd.Series(dtype=dtype) for column, dtype in SCORE_COLUMNS.items()})
    if purchase_days.empty:
        return empty, "no purchases up to the as-of date: no scores"
    summary = summarize_transactions(
        purchase_days, order_time="purchase_day", value="purchase_value", observation_end=as_of
    )
    repeat = int((summary["frequency"] > 0).sum())
    if repeat < min_repeat_customers:
        return empty, (f"{repeat} repeat buyers among {len(summary)} customers, fewer than "
                       f"min_repeat_customers ({min_repeat_customers}): no scores")
    message = None
    try:
        purchases, spend = fit_customer_value(summary)
        fit = {**purchases.params_, **spend.params_, "population_mean_value": spend.population_mean_value(),
               "n_customers": len(summary), "n_repeat_customers": repeat}
        if spend.params_["q"] <= 1:
            message = (f"Gamma-Gamma q = {spend.params_['q']:.3g} <= 1, no finite population mean: customers "
                       f"without a repeat value get the fitted customers' mean {spend.sample_mean_value_:.4g}")
        scores = predict_customer_value(summary, purchases, spend, as_of=as_of, churn_thresholds=churn_thresholds)
        predicted = scores[["expected_purchases_90d", "probability_active", "predicted_value_90d"]]
        if not np.isfinite(predicted.to_numpy(dtype=float)).all():  # a fit at the edge of the parameter space
            raise SegrecError(f"non-finite predictions with parameters {fit}")
    except SegrecError as exc:
        return empty, f"no usable model ({exc}): no scores"
    second = purchase_days.groupby("customer_key")["days_to_second_purchase"].first()
    scores = scores.assign(
        as_of_date=as_of.floor("D"), repeat_purchase_days=summary["frequency"],
        days_since_first_purchase=summary["T"], days_first_to_last_purchase=summary["recency"],
        days_to_second_purchase=scores["customer_key"].map(second).astype("float64"),
        avg_repeat_value=summary["monetary_value"], model_parameters=json.dumps(fit, sort_keys=True),
    )
    return scores[list(SCORE_COLUMNS)], message
