-- The customer features as of the validation cutoff (long form, macro customer_features_as_of,
-- the same as int_customers__value_features computes now): what the candidate segmentations are
-- clustered on. Empty when the hold-out is disabled.
{{ customer_features_as_of('(select cutoff_time from ' ~ ref('int_segmentation__holdout_window') ~ ')') }}
