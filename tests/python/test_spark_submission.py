"""segrec.spark_submission: the `session` submission method on dbt-spark's adapter. These checks
need dbt-spark but no Java; a Python model run through it by dbt is in test_spark_cross_engine.py."""

from __future__ import annotations

import importlib.util
from types import SimpleNamespace

import pytest

pytestmark = pytest.mark.skipif(importlib.util.find_spec("dbt.adapters.spark") is None,
                                reason='dbt-spark is not installed (pip install -e ".[spark]")')


def spark_adapter(method):
    """A SparkAdapter with only what the submission properties read: the profile's method."""
    from dbt.adapters.spark.impl import SparkAdapter

    adapter = SparkAdapter.__new__(SparkAdapter)
    adapter.config = SimpleNamespace(credentials=SimpleNamespace(method=method))
    return adapter


def test_install_adds_session_and_makes_it_the_default_of_the_session_method_only():
    from dbt.adapters.spark.connections import SparkConnectionMethod

    from segrec.spark_submission import SUBMISSION_METHOD, SessionPythonJobHelper, install

    install()
    install()  # idempotent: the properties are wrapped once
    session = spark_adapter(SparkConnectionMethod.SESSION)
    assert session.python_submission_helpers[SUBMISSION_METHOD] is SessionPythonJobHelper
    assert {"all_purpose_cluster", "job_cluster"} <= set(session.python_submission_helpers)  # Databricks' stay
    assert session.default_python_submission_method == SUBMISSION_METHOD
    assert spark_adapter(SparkConnectionMethod.THRIFT).default_python_submission_method == "all_purpose_cluster"


def test_segrec_dbt_installs_the_helper_before_dbt_and_passes_dbt_its_arguments(monkeypatch):
    import dbt.cli.main

    import segrec.spark_submission
    from segrec.cli import main

    calls = []

    class FakeRunner:
        def invoke(self, args):
            calls.append(("dbt", args))
            return SimpleNamespace(success=False, exception=None)

    monkeypatch.setattr(segrec.spark_submission, "install", lambda: calls.append(("install",)))
    monkeypatch.setattr(dbt.cli.main, "dbtRunner", FakeRunner)
    assert main(["dbt", "build", "--target", "spark", "--select", "a+"]) == 1  # dbt's code: failed nodes
    assert calls == [("install",), ("dbt", ["build", "--target", "spark", "--select", "a+"])]
