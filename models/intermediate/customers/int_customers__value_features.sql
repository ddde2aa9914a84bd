-- The value, behaviour and taste features of every customer as of now (long form, macro
-- customer_features_as_of, the same as int_segmentation__holdout_features at the validation
-- cutoff): what int_segmentation__model_runs clusters with the chosen feature set.
{{ customer_features_as_of('(select as_of_time from ' ~ ref('int_events__as_of') ~ ')') }}
