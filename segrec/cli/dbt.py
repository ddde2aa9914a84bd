"""`segrec dbt ARGS...`: dbt (in this process, dbtRunner) with segrec's `session` submission method
for Python models on dbt-spark's session method (segrec.spark_submission), e.g.
`segrec dbt build --target spark`. Every argument goes to dbt unchanged; the exit code is dbt's
(0 success, 1 failed nodes, 2 dbt error). On DuckDB it is plain dbt. docs/spark.md."""

from __future__ import annotations

import argparse
import importlib.util


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("dbt_args", nargs=argparse.REMAINDER, help="dbt's command and options")


def run(args: argparse.Namespace) -> int:
    from dbt.cli.main import dbtRunner

    if importlib.util.find_spec("dbt.adapters.spark") is not None:  # the spark extra is optional
        from segrec.spark_submission import install

        install()
    result = dbtRunner().invoke(list(args.dbt_args))
    if result.success:
        return 0
    return 2 if result.exception is not None else 1
