"""Traffic allocation across recommendation strategies by Thompson sampling.

Why: an A/B test splits traffic evenly until it ends; a shop that keeps testing wants traffic
to move toward the strategy that earns more clicks or conversions while the evidence comes in,
without ever starving the others (a strategy that looks worse today may be better next month).
Each strategy's reward rate gets a Beta posterior (Beta(1, 1) prior: every rate equally likely
before any impression); the next period's share of each strategy is the posterior probability
that it is the best, with a ``floor`` for exploration. Old evidence can fade: an impression
``half_life_days`` old weighs half (discounted Thompson sampling, for rates that drift).

:func:`strategy_allocations` builds the ``strategy_allocations`` rows per segment (and layout
variant) from one row per impression; :func:`simulate_allocation` replays a policy against known
rates (the regret benchmark in ``bench/bench_bandit.py``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
from scipy import stats

from segrec.errors import SegrecError
from segrec.io import require_columns
from segrec.recommend.ranker import LIST_TYPES

# reward name -> the 0/1 column of int_experiment__impression_outcomes it counts
REWARDS: dict[str, str] = {"click": "clicked", "conversion": "converted"}
POLICIES: tuple[str, ...] = ("thompson", "fixed", "oracle")
GROUP_COLUMNS: tuple[str, ...] = ("segment_name", "layout_variant")
ALLOCATION_SCHEMA = pa.schema([
    ("segment_name", pa.string()), ("layout_variant", pa.string()), ("strategy", pa.string()),
    ("reward", pa.string()), ("n_impressions", pa.int64()), ("n_rewards", pa.int64()),
    ("weighted_impressions", pa.float64()), ("weighted_rewards", pa.float64()),
    ("posterior_alpha", pa.float64()), ("posterior_beta", pa.float64()), ("posterior_mean", pa.float64()),
    ("ci_low", pa.float64()), ("ci_high", pa.float64()), ("prob_best", pa.float64()),
    ("traffic_share", pa.float64()), ("as_of", pa.timestamp("us")),
])
ASSIGNMENT_SCHEMA = pa.schema([
    ("customer_key", pa.string()), ("segment_name", pa.string()), ("layout_variant", pa.string()),
    ("strategy", pa.string()), ("traffic_share", pa.float64()), ("allocation_segment", pa.string()),
    ("list_type", pa.string()), ("period_start", pa.timestamp("us")),
])
# Keys of the dbt var strategy_allocation and their defaults.
ALLOCATION_DEFAULTS: dict[str, Any] = {
    "reward": "click", "half_life_days": 30.0, "floor": 0.05, "credible_level": 0.95, "draws": 10_000,
    "layout_experiment": None, "random_state": 0, "period_days": 7, "served_lists": {},
}


def allocation_settings(settings: Mapping[str, Any] | None) -> dict[str, Any]:
    """The dbt var ``strategy_allocation`` checked, with defaults for keys it leaves out."""
    settings = dict(settings or {})
    unknown = sorted(set(settings) - set(ALLOCATION_DEFAULTS))
    if unknown:
        raise SegrecError(f"var strategy_allocation: unknown key(s) {unknown}; use {sorted(ALLOCATION_DEFAULTS)}")
    served = settings.get("served_lists") or {}
    if not isinstance(served, Mapping) or any(value not in LIST_TYPES for value in served.values()):
        raise SegrecError("var strategy_allocation.served_lists must map strategies to list types "
                          f"({', '.join(LIST_TYPES)}), got {served!r}")
    return ALLOCATION_DEFAULTS | settings | {"served_lists": dict(served)}


class ThompsonAllocator:
    """Beta-Bernoulli Thompson sampling over arms (scikit-learn style parameters).

    Parameters
    ----------
    floor : least traffic share of every arm (exploration); ``n_arms * floor`` must be <= 1.
    prior_alpha, prior_beta : the Beta prior of every arm's rate.
    credible_level : width of the equal-tailed credible interval of each rate.
    draws : posterior draws per arm to estimate the probability of being best.
    random_state : seed of the draws (same evidence, same shares).
    """

    def __init__(self, floor: float = 0.05, prior_alpha: float = 1.0, prior_beta: float = 1.0,
                 credible_level: float = 0.95, draws: int = 10_000, random_state: int = 0) -> None:
        self.floor = floor
        self.prior_alpha = prior_alpha
        self.prior_beta = prior_beta
        self.credible_level = credible_level
        self.draws = draws
        self.random_state = random_state

    def _check(self, n_arms: int) -> None:
        if not 0 <= self.floor or n_arms * self.floor > 1:
            raise SegrecError(f"strategy allocation floor {self.floor} is impossible with {n_arms} strategies: "
                              f"use 0 <= floor <= {1 / n_arms:.4f}")
        if self.prior_alpha <= 0 or self.prior_beta <= 0:
            raise SegrecError("strategy allocation: the Beta prior needs prior_alpha > 0 and prior_beta > 0")
        if not 0 < self.credible_level < 1:
            raise SegrecError(f"strategy allocation credible_level must be in (0, 1), got {self.credible_level}")
        if self.draws < 1:
            raise SegrecError(f"strategy allocation draws must be >= 1, got {self.draws}")

    def allocate(self, trials: Sequence[float], successes: Sequence[float]) -> pd.DataFrame:
        """Posterior and next-period share per arm, in the order given: columns
        ``posterior_alpha``, ``posterior_beta``, ``posterior_mean``, ``ci_low``, ``ci_high``,
        ``prob_best`` and ``traffic_share`` (floor + (1 - n_arms * floor) * prob_best)."""
        trials, successes = np.asarray(trials, dtype=float), np.asarray(successes, dtype=float)
        if trials.shape != successes.shape or trials.ndim != 1 or len(trials) == 0:
            raise SegrecError("strategy allocation needs one trial and one success count per arm")
        if (successes < 0).any() or (successes > trials + 1e-9).any():
            raise SegrecError("strategy allocation: successes must lie between 0 and the trials of each arm")
        self._check(len(trials))
        alpha = self.prior_alpha + successes
        beta = self.prior_beta + trials - successes
        tail = (1 - self.credible_level) / 2
        rng = np.random.default_rng(self.random_state)
        sampled = rng.beta(alpha, beta, size=(self.draws, len(trials)))
        prob_best = np.bincount(sampled.argmax(axis=1), minlength=len(trials)) / self.draws
        return pd.DataFrame({
            "posterior_alpha": alpha,
            "posterior_beta": beta,
            "posterior_mean": alpha / (alpha + beta),
            "ci_low": stats.beta.ppf(tail, alpha, beta),
            "ci_high": stats.beta.ppf(1 - tail, alpha, beta),
            "prob_best": prob_best,
            "traffic_share": self.floor + (1 - len(trials) * self.floor) * prob_best,
        })


def evidence_weights(shown_at: pd.Series, as_of: pd.Timestamp, half_life_days: float | None) -> np.ndarray:
    """Weight of each impression: 0.5 ** (age in days / ``half_life_days``) at ``as_of`` (1 for
    all with None). An impression without a time weighs as the oldest dated one."""
    if half_life_days is None:
        return np.ones(len(shown_at))
    if half_life_days <= 0:
        raise SegrecError(f"strategy allocation half_life_days must be > 0 or null, got {half_life_days}")
    age = (pd.Timestamp(as_of) - pd.to_datetime(shown_at)) / pd.Timedelta(days=1)
    age = age.fillna(age.max() if age.notna().any() else 0.0).clip(lower=0.0)
    return np.power(0.5, age.to_numpy(dtype=float) / half_life_days)


def strategy_allocations(outcomes: pd.DataFrame, *, reward: str = "click", half_life_days: float | None = 30.0,
                         allocator: ThompsonAllocator | None = None) -> pd.DataFrame:
    """The ``strategy_allocations`` rows (:data:`ALLOCATION_SCHEMA`) from one row per impression
    (``strategy``, ``shown_at``, ``clicked``, ``converted``, ``segment_name``, ``layout_variant``).

    One allocation per (segment, layout variant) among the strategies shown in it, plus segment
    ``all`` per layout variant (everyone). ``as_of`` is the last impression: ages and the
    discount are measured to it, so a rebuild on the same data gives the same shares.
    """
    if reward not in REWARDS:
        raise SegrecError(f"strategy allocation reward {reward!r}: use one of {sorted(REWARDS)}")
    require_columns(outcomes, "impression outcomes", ("strategy", "shown_at", REWARDS[reward], *GROUP_COLUMNS))
    allocator = allocator or ThompsonAllocator()
    if outcomes.empty:
        return pd.DataFrame({field.name: pd.Series([], dtype=object) for field in ALLOCATION_SCHEMA})
    as_of = pd.to_datetime(outcomes["shown_at"]).max()
    frame = outcomes.assign(
        weight=evidence_weights(outcomes["shown_at"], as_of, half_life_days),
        hit=outcomes[REWARDS[reward]].fillna(False).astype(bool).to_numpy(dtype=float),
    )
    frame = pd.concat([frame, frame.assign(segment_name="all")], ignore_index=True)
    frame = frame.assign(weighted_hit=frame["weight"] * frame["hit"])
    counts = frame.groupby([*GROUP_COLUMNS, "strategy"], sort=True).agg(
        n_impressions=("hit", "size"), n_rewards=("hit", "sum"),
        weighted_impressions=("weight", "sum"), weighted_rewards=("weighted_hit", "sum"),
    ).reset_index()
    parts = []
    for _, group in counts.groupby(list(GROUP_COLUMNS), sort=True):
        posterior = allocator.allocate(group["weighted_impressions"], group["weighted_rewards"])
        parts.append(pd.concat([group.reset_index(drop=True), posterior], axis=1))
    out = pd.concat(parts, ignore_index=True).assign(reward=reward, as_of=as_of)
    out["n_rewards"] = out["n_rewards"].astype(np.int64)
    return out[list(ALLOCATION_SCHEMA.names)]


def assignment_period(as_of: pd.Timestamp, period_days: int) -> pd.Timestamp:
    """The start of the period ``as_of`` falls in: whole ``period_days`` counted from 1970-01-01,
    so every build in the same period assigns the same strategies."""
    if isinstance(period_days, bool) or not isinstance(period_days, int) or period_days < 1:
        raise SegrecError(f"strategy allocation period_days must be a whole number >= 1, got {period_days!r}")
    day = pd.Timestamp(as_of).floor("D")
    days = (day - pd.Timestamp("1970-01-01")) // pd.Timedelta(days=1)
    return pd.Timestamp("1970-01-01") + pd.Timedelta(days=days - days % period_days)


def unit_hash(keys: Sequence[object], salt: str) -> np.ndarray:
    """A uniform number in [0, 1) per key, the same on every machine and run for the same
    ``salt`` (BLAKE2b of salt and key), independent across salts: a customer's lottery ticket."""
    digests = (hashlib.blake2b(f"{salt}\x1f{key}".encode(), digest_size=8).digest() for key in keys)
    return np.fromiter((int.from_bytes(d, "big") for d in digests), dtype=np.float64, count=len(keys)) / 2.0**64


def assign_strategies(customers: pd.DataFrame, allocations: pd.DataFrame, *, period_start: pd.Timestamp,
                      random_state: int = 0, served_lists: Mapping[str, str] | None = None) -> pd.DataFrame:
    """Each customer's strategy for the period starting at ``period_start`` (:data:`ASSIGNMENT_SCHEMA`).

    ``customers``: ``customer_key``, ``segment_name``, ``layout_variant``; ``allocations``: the
    ``strategy_allocations`` rows (GROUP_COLUMNS, ``strategy``, ``traffic_share``). A customer draws
    from the allocation of their (segment, layout variant), or of segment ``all`` in their variant
    when their segment has none (``allocation_segment`` says which): their ticket
    (:func:`unit_hash` of the key, salted with the period and ``random_state``) falls in one
    strategy's slice of [0, 1), strategies in name order. So each strategy gets its traffic share
    of the customers, a customer keeps their strategy for the whole period and draws again in the
    next. Customers with no allocation to draw from (no impressions in their variant) get none.
    ``served_lists`` (strategy -> list type of ``customer_recommendations``) names the list that
    serves each strategy segrec can serve: the ``list_type`` column, null for the others.
    """
    require_columns(customers, "customers", ("customer_key", *GROUP_COLUMNS))
    require_columns(allocations, "strategy allocations", (*GROUP_COLUMNS, "strategy", "traffic_share"))
    own = customers[["customer_key", *GROUP_COLUMNS]].merge(
        allocations[list(GROUP_COLUMNS)].drop_duplicates(), on=list(GROUP_COLUMNS), how="left", indicator=True)
    chosen = own.assign(allocation_segment=np.where(own["_merge"] == "both", own["segment_name"], "all"))
    chosen = chosen.drop(columns="_merge")
    slices = allocations.sort_values([*GROUP_COLUMNS, "strategy"], kind="stable").assign(
        upper=lambda a: a.groupby(list(GROUP_COLUMNS), sort=False)["traffic_share"].cumsum())
    slices = slices.rename(columns={"segment_name": "allocation_segment"})
    chosen = chosen.assign(ticket=unit_hash(chosen["customer_key"].tolist(),
                                            f"{random_state}\x1f{pd.Timestamp(period_start):%Y-%m-%d}"))
    pairs = chosen.merge(slices[["allocation_segment", "layout_variant", "strategy", "traffic_share", "upper"]],
                         on=["allocation_segment", "layout_variant"], how="inner")
    # the first slice whose upper bound passes the ticket; the last one also takes rounding (sum 1 - 1e-16)
    pairs = pairs[(pairs["ticket"] < pairs["upper"])
                  | (pairs.groupby("customer_key")["upper"].transform("max") == pairs["upper"])]
    out = pairs.sort_values(["customer_key", "upper"], kind="stable").drop_duplicates("customer_key")
    out = out.assign(period_start=pd.Timestamp(period_start),
                     list_type=out["strategy"].map(dict(served_lists or {})).astype(object))
    out = out.sort_values("customer_key").reset_index(drop=True)
    return out[list(ASSIGNMENT_SCHEMA.names)]


def _policy_shares(policy: str, rates: np.ndarray, trials: np.ndarray, successes: np.ndarray,
                   allocator: ThompsonAllocator) -> np.ndarray:
    if policy == "fixed":
        return np.full(len(rates), 1 / len(rates))
    if policy == "oracle":
        return (np.arange(len(rates)) == rates.argmax()).astype(float)
    return allocator.allocate(trials, successes)["traffic_share"].to_numpy()


def simulate_allocation(
    rates: Mapping[str, float] | Callable[[int], Mapping[str, float]],
    *,
    policy: str,
    periods: int,
    impressions_per_period: int,
    allocator: ThompsonAllocator | None = None,
    half_life_periods: float | None = None,
    random_state: int = 0,
) -> pd.DataFrame:
    """Replay ``policy`` (thompson, fixed: an even split, oracle: all traffic to the truly best)
    for ``periods`` periods against known click rates (a mapping, or a function of the period
    for drifting rates). Each period the policy's shares split ``impressions_per_period``
    impressions (multinomial), clicks are drawn per strategy, and the evidence (discounted by
    ``half_life_periods``) feeds the next period. Returns one row per period: the shares,
    ``regret`` (expected clicks lost against always showing the best: sum of impressions x
    (best rate - rate)) and ``cumulative_regret``."""
    if policy not in POLICIES:
        raise SegrecError(f"unknown allocation policy {policy!r}: use one of {list(POLICIES)}")
    if periods < 1 or impressions_per_period < 1:
        raise SegrecError("simulate_allocation needs periods >= 1 and impressions_per_period >= 1")
    rate_at = rates if callable(rates) else (lambda _period: rates)
    names = list(rate_at(0))
    allocator = allocator or ThompsonAllocator()
    rng = np.random.default_rng(random_state)
    decay = 1.0 if half_life_periods is None else 0.5 ** (1 / half_life_periods)
    trials, successes = np.zeros(len(names)), np.zeros(len(names))
    rows: list[dict[str, Any]] = []
    for period in range(periods):
        current = rate_at(period)
        if list(current) != names:
            raise SegrecError(f"simulate_allocation: period {period} names strategies {list(current)}, not {names}")
        truth = np.asarray([current[n] for n in names], dtype=float)
        shares = _policy_shares(policy, truth, trials, successes, allocator)
        shown = rng.multinomial(impressions_per_period, shares / shares.sum())
        clicks = rng.binomial(shown, truth)
        trials, successes = trials * decay + shown, successes * decay + clicks
        rows.append({"period": period, "regret": float((shown * (truth.max() - truth)).sum()),
                     **{f"share_{n}": float(s) for n, s in zip(names, shares, strict=True)}})
    out = pd.DataFrame(rows)
    return out.assign(policy=policy, cumulative_regret=out["regret"].cumsum())
