"""segrec: customer segmentation and recommendations for dbt + DuckDB.

The package holds the algorithms that dbt Python models call (clustering, recommenders,
metrics, customer value, experiment statistics), the synthetic data generator, the
source adapters and the exports. Everything here is plain pandas/numpy/scipy and is
unit-tested without dbt.
"""

__version__ = "0.1.0"
