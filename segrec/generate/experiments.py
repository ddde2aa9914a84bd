"""A/B tests with known effects: `rec_strategy_test` (hybrid recommendations raise the purchase
conversion of visits by a known relative amount) and the A/A test `homepage_aa` (no effect)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from segrec.generate.common import DAY, Window


@dataclass(frozen=True)
class Experiment:
    experiment_id: str
    control: str
    treatment: str
    relative_effect: float  # true relative lift of the treatment on `metric`
    metric: str
    max_days: int | None  # the experiment runs over the last max_days (at most half the window)


EXPERIMENTS: tuple[Experiment, ...] = (
    Experiment("rec_strategy_test", control="collaborative", treatment="hybrid", relative_effect=0.30,
               metric="visit_purchase_conversion", max_days=42),
    Experiment("homepage_aa", control="A", treatment="B", relative_effect=0.0,
               metric="visit_purchase_conversion", max_days=None),
)


def experiment_window(experiment: Experiment, window: Window) -> tuple[int, int]:
    """Start and (exclusive) end of an experiment in epoch seconds."""
    if experiment.max_days is None:
        return window.start, window.end
    days = min(experiment.max_days, max(1, window.days // 2))
    return window.end - days * DAY, window.end


def assign_experiments(
    visits: pd.DataFrame, window: Window, rng: np.random.Generator
) -> tuple[pd.DataFrame, np.ndarray]:
    """Assign every customer who visits during an experiment, 50/50, at their first visit in it.

    Returns the assignments (``experiment_id``, ``customer``, ``variant``, ``assigned_at``) and,
    per visit, the relative conversion lift it receives (0 unless it is a treated visit).
    ``visits`` must be sorted by customer and start.
    """
    customer = visits["customer"].to_numpy()
    start = visits["start"].to_numpy()
    lift = np.zeros(len(visits))
    parts = []
    for experiment in EXPERIMENTS:
        begin, end = experiment_window(experiment, window)
        inside = np.flatnonzero((start >= begin) & (start < end))
        members, first = np.unique(customer[inside], return_index=True)
        treated = rng.random(len(members)) < 0.5
        parts.append(pd.DataFrame({
            "experiment_id": experiment.experiment_id,
            "customer": members,
            "variant": np.where(treated, experiment.treatment, experiment.control),
            "assigned_at": start[inside][first],
        }))
        treated_visit = np.isin(customer[inside], members[treated])
        lift[inside[treated_visit]] += experiment.relative_effect
    return pd.concat(parts, ignore_index=True), lift


def experiments_truth(window: Window) -> pd.DataFrame:
    """One row per (experiment, variant) with the true relative effect against the control."""
    rows = []
    for experiment in EXPERIMENTS:
        begin, end = experiment_window(experiment, window)
        for variant, is_control in ((experiment.control, True), (experiment.treatment, False)):
            rows.append({
                "experiment_id": experiment.experiment_id, "variant": variant, "is_control": is_control,
                "metric": experiment.metric,
                "relative_effect": 0.0 if is_control else experiment.relative_effect,
                "window_start": pd.Timestamp(begin, unit="s"), "window_end": pd.Timestamp(end, unit="s"),
            })
    return pd.DataFrame(rows)
