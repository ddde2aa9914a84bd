-- Business validation of the segments, every build: the chosen segmentation and the spend-quintile
-- and R x F baselines on the temporal hold-out, per segment (int_segmentation__validation).
select * from {{ ref('int_segmentation__validation') }}
