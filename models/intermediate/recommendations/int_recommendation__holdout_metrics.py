"""Offline evaluation on the temporal hold-out (segrec.recommend.pipeline.holdout_metrics):
every strategy and the hybrid, trained on the events before the test window with the ALS
parameters selected on the validation window, the learned ranker's lists of the test cutoff
(ranker_buy_again, ranker_discover, ranker_blended) and the buy-again baseline (each customer's
own most often bought products), scored on the test window overall and per customer group (segment,
new/returning, age band, gender, region, country) and k, over the evaluation sample
(int_recommendation__customers.is_evaluated); ALS trained by implicit or Spark (var ml_engine). Means
over customers carry a 95% normal interval, and ranker_blended's NDCG ratio to the better of popularity
and buy_again a paired bootstrap one (var recommendation_bootstrap). Read it through
recommendation_metrics and recommendation_fairness."""

from segrec.engine import to_arrow, to_output
from segrec.recommend.evaluation import KS
from segrec.recommend.pipeline import (
    METRICS_SCHEMA,
    als_factory_for,
    als_parameters,
    as_frame,
    cutoff_data,
    evaluated_keys,
    fairness_groups,
    holdout_metrics,
    selected_parameters,
    windows_description,
)
from segrec.recommend.ranker_pipeline import buy_again_lists, ranker_strategy_lists
from segrec.schemas import typed_table


def model(dbt, session):
    dbt.config(materialized="table")
    test = "cutoff = 'test'"
    customers = as_frame(to_arrow(dbt.ref("int_recommendation__customers")))
    data = cutoff_data(
        to_arrow(dbt.ref("int_interactions__holdout").filter(test)),
        to_arrow(dbt.ref("int_recommendation__products").filter(test)),
        customers,
    )
    _, random_state = als_parameters(dbt.config.get("als"))
    bootstrap = dbt.config.get("bootstrap")
    windows = to_arrow(dbt.ref("int_recommendation__windows"))
    extra = ranker_strategy_lists(as_frame(to_arrow(dbt.ref("int_recommendation__ranker_holdout"))))
    extra["buy_again"] = buy_again_lists(
        as_frame(to_arrow(dbt.ref("int_recommendation__purchase_lines"))),
        as_frame(windows)["test_start"].iloc[0],
        n=max(KS),
    )
    metrics = holdout_metrics(
        data,
        to_arrow(dbt.ref("int_recommendation__holdout_truth").filter(test)),
        to_arrow(dbt.ref("int_recommendation__recent_events").filter(test)),
        customer_keys=evaluated_keys(customers),
        als_params=selected_parameters(to_arrow(dbt.ref("int_recommendation__als_grid"))),
        random_state=random_state,
        max_per_category=dbt.config.get("max_per_category"),
        extra_lists=extra,
        groups=fairness_groups(customers),
        als_factory=als_factory_for(dbt.config.get("ml_engine"), session, dbt.config.get("spark_ml")),
        n_resamples=int(bootstrap["n_resamples"]),
        bootstrap_random_state=int(bootstrap["random_state"]),
    )
    metrics = metrics.assign(split_description=windows_description(windows))
    return to_output(typed_table(metrics, METRICS_SCHEMA), session)
