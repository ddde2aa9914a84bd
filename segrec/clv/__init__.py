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

Modules: :mod:`~segrec.clv.summary` (step 1), :mod:`~segrec.clv.bgnbd` and
:mod:`~segrec.clv.gamma_gamma` (step 2, on :mod:`~segrec.clv.likelihood`), :mod:`~segrec.clv.scoring`
(step 3 and the dbt model's entry point :func:`score_customers`).
``docs/customer-value.md`` has the model summary and the CDNOW validation figures.
"""

from segrec.clv.bgnbd import BetaGeoModel, bgnbd_log_likelihood, expected_purchases_given_active, simulate_beta_geo
from segrec.clv.gamma_gamma import GammaGammaModel, gamma_gamma_log_likelihood, simulate_gamma_gamma
from segrec.clv.scoring import (
    CHURN_RISK_BANDS,
    HORIZON_DAYS,
    SCORE_COLUMNS,
    SCORE_SCHEMA,
    churn_risk_band,
    fit_customer_value,
    holdout_comparison,
    model_version_of,
    predict_customer_value,
    score_customers,
)
from segrec.clv.summary import TIME_UNITS, summarize_transactions

__all__ = [
    "BetaGeoModel",
    "CHURN_RISK_BANDS",
    "GammaGammaModel",
    "HORIZON_DAYS",
    "SCORE_COLUMNS",
    "SCORE_SCHEMA",
    "TIME_UNITS",
    "bgnbd_log_likelihood",
    "churn_risk_band",
    "expected_purchases_given_active",
    "fit_customer_value",
    "gamma_gamma_log_likelihood",
    "holdout_comparison",
    "model_version_of",
    "predict_customer_value",
    "score_customers",
    "simulate_beta_geo",
    "simulate_gamma_gamma",
    "summarize_transactions",
]
