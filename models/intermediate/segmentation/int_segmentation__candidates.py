"""The segmentation candidates (feature set x k) judged on the temporal hold-out, the chosen one
and the baselines (segrec.segmentation.candidates.evaluate_candidates). Empty when the hold-out
is disabled or the data too short (int_segmentation__holdout_window says why): the run then
clusters as before. Read through the marts segmentation_candidates and segment_validation.
Clustered by scikit-learn or Spark (var ml_engine)."""

from segrec.engine import to_output, to_pandas
from segrec.errors import SegrecError
from segrec.segmentation.candidates import ValidationConfig, candidate_table, evaluate_candidates, wide_features
from segrec.segmentation.pipeline import kmeans_factory_for


def model(dbt, session):
    window = to_pandas(dbt.ref("int_segmentation__holdout_window")).iloc[0]
    features = wide_features(to_pandas(dbt.ref("int_segmentation__holdout_features")))
    outcomes = to_pandas(dbt.ref("int_segmentation__holdout_outcomes")).set_index("customer_key")
    k_min, k_max = int(dbt.config.get("k_min")), int(dbt.config.get("k_max"))
    if not window["is_enabled"] or len(outcomes) < max(10, 3 * k_max):
        print(f"segmentation validation skipped: {window['reason']}, {len(outcomes)} customers before the cutoff")
        return to_output(candidate_table(None, None, None), session)
    config = ValidationConfig(
        horizon_days=int(window["horizon_days"]),
        value_weight=float(dbt.config.get("value_weight")),
        silhouette_tolerance=float(dbt.config.get("silhouette_tolerance")),
        min_segment_share=float(dbt.config.get("min_segment_share")),
        r2_tolerance=float(dbt.config.get("r2_tolerance")),
        sample_size=int(dbt.config.get("sample_size")),
        max_customers=int(dbt.config.get("max_customers")),
    )
    # outside the try: a var ml_engine Spark cannot serve stops the build, it does not skip validation
    kmeans_factory = kmeans_factory_for(dbt.config.get("ml_engine"), session, dbt.config.get("spark_ml"))
    try:
        result = evaluate_candidates(
            features.loc[outcomes.index],
            outcomes["log_next_revenue"],
            k_min=k_min,
            k_max=k_max,
            config=config,
            min_silhouette=float(dbt.config.get("min_silhouette")),
            random_state=int(dbt.config.get("random_state")),
            n_init=int(dbt.config.get("n_init")),
            kmeans_factory=kmeans_factory,
        )
    except SegrecError as error:  # e.g. no feature varies: the run clusters as before
        print(f"segmentation validation skipped: {error}")
        return to_output(candidate_table(None, None, None), session)
    return to_output(candidate_table(result, window["cutoff_time"], config.horizon_days), session)
