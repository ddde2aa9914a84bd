"""Gamma-Gamma (Fader & Hardie 2013, "The Gamma-Gamma model of monetary value"): the expected
value of a customer's purchases."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import special

from segrec.clv.likelihood import fit_log_params, float_array, unique_rows
from segrec.errors import SegrecError


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
        x = float_array(frequency, "frequency")
        m = float_array(monetary_value, "monetary_value")
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
        (ux, um), counts = unique_rows(x, m)

        def negative_loglik(params: NDArray[np.float64]) -> float:
            return -float(counts @ gamma_gamma_log_likelihood(params, ux, um))

        start = np.log([1.0, 2.0, float(m.mean())])  # prior mean p*gamma/(q-1) = sample mean
        params, self.log_likelihood_ = fit_log_params(
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
        x = float_array(frequency, "frequency")
        m = float_array(monetary_value, "monetary_value")
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
    x = float_array(frequency, "frequency")
    nu = rng.gamma(q, 1.0 / gamma, size=x.size)
    return rng.gamma(p * x, 1.0 / (x * nu))
