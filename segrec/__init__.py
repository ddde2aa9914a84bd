"""segrec: customer segmentation and recommendations for dbt + DuckDB.

The package holds the algorithms that dbt Python models call (clustering, recommenders,
metrics, customer value, experiment statistics), the synthetic data generator, the
source adapters and the exports. Everything here is plain pandas/numpy/scipy and is
unit-tested without dbt.

Imports run one way, down this stack (tests/python/test_package_structure.py checks that
there is no cycle):

- ``segrec.cli``: the command-line adapters, the only modules that know about argparse;
- publishing: ``exports``, ``runlog``, ``report``, ``results``, ``run``, ``summary``, ``docs``,
  ``serve`` (the HTTP service over the exports);
- models and data: ``segmentation``, ``recommend`` (with its ``evaluation`` and ``tuning``),
  ``clv``, ``experiments``, ``bandits``, ``generate``, ``ingest``;
- the bottom: ``warehouse`` (reading a built DuckDB file), ``io`` (atomic writes, required
  columns), ``schemas`` (output tables as Arrow schemas), ``versioning`` (the model-version
  hash), ``contract`` and ``rawio`` (the raw contract), ``engine`` (a model's refs as Arrow or
  pandas and its result as what DuckDB or Spark accepts; the SparkSession an ML fit runs in),
  ``spark_submission`` (Python models run in dbt-spark's local session), ``overlap`` (a batch
  loop's next item made in a second thread), ``errors``.
"""

__version__ = "0.1.0"
