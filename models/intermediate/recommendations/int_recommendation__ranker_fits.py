"""The learned rankers of the two served cutoffs (segrec.recommend.ranker_pipeline.fit_rankers),
one row each, pickled: test's learned on the validation window and the windows before it, latest's
on the test window and the windows before it, from the evaluation sample's candidate pairs
(int_recommendation__hybrid_holdout among their sources). A model of its own so that the learning
runs beside the served cutoff's hybrid (int_recommendation__hybrid_latest); the list models
int_recommendation__ranker_holdout and __ranker_latest score with these. The ALS candidate source
trains by implicit or Spark (var ml_engine)."""

from segrec.engine import to_arrow, to_output
from segrec.recommend.pipeline import als_factory_for, as_frame
from segrec.recommend.ranker_pipeline import RankerInputs, fit_rankers, ranker_fits_table


def model(dbt, session):
    dbt.config(materialized="table")
    # dbt finds refs and config.get calls only outside subscripts: read into a name first
    windows = as_frame(to_arrow(dbt.ref("int_recommendation__windows")))
    inputs = RankerInputs(
        as_frame(to_arrow(dbt.ref("int_recommendation__purchase_lines"))),
        windows.iloc[0],
        to_arrow(dbt.ref("int_recommendation__hybrid_holdout")),  # kept as Arrow (candidates.CutoffRows)
        as_frame(to_arrow(dbt.ref("int_recommendation__holdout_truth"))),
        as_frame(to_arrow(dbt.ref("int_recommendation__products"))),
        as_frame(to_arrow(dbt.ref("int_recommendation__customers"))),
    )
    fits = fit_rankers(
        inputs,
        settings=dbt.config.get("ranker"),
        horizon_days=dbt.config.get("test_days"),
        als_factory=als_factory_for(dbt.config.get("ml_engine"), session, dbt.config.get("spark_ml")),
    )
    return to_output(ranker_fits_table(fits), session)
