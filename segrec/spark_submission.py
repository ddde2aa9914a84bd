"""dbt Python models on dbt-spark's ``session`` method: run in the local SparkSession (issue 14).

dbt-spark hands a Python model's compiled code to a *submission helper*
(``SparkAdapter.submit_python_job``: ``python_submission_helpers[submission_method](parsed_model,
credentials).submit(compiled_code)``, the method from the model's ``submission_method`` config,
else ``default_python_submission_method``). Its only helpers, ``all_purpose_cluster`` and
``job_cluster``, upload the code as a notebook to a Databricks workspace, so with ``method:
session`` every Python model fails ("Databricks cluster_id is required").

The compiled code needs no workspace: it is the model file, dbt's ``dbtObj`` class, then
``dbt = dbtObj(spark.table); df = model(dbt, spark)`` and the write
(``df.write.mode("overwrite").format(<file_format>).saveAsTable(...)``, dbt-spark's
``py_write_table``). :class:`SessionPythonJobHelper` executes it in this process with ``spark``
bound to the SparkSession the session method opened (``getOrCreate`` returns that one).

:func:`install` registers the helper on dbt-spark's adapter class under the submission method
``session`` and makes ``session`` the default submission method of profiles with ``method:
session`` (Databricks-backed profiles keep dbt-spark's default; dbt-databricks has its own
adapter class and is not touched). The registry is a property of the adapter class and dbt runs
no project Python before it submits a model, so ``install`` has to run in the dbt process
before the build: ``segrec dbt ...`` (:mod:`segrec.cli.dbt`, dbtRunner) does it, and so do the
tests that run dbt in-process. A plain ``dbt build --target spark`` still fails on the Python
models. docs/spark.md."""

from __future__ import annotations

from typing import Any

from dbt.adapters.base import PythonJobHelper
from dbt_common.exceptions import DbtRuntimeError

# The submission_method name of the helper (a model may also set it explicitly).
SUBMISSION_METHOD = "session"
_INSTALLED_FLAG = "_segrec_session_submission"


class SessionPythonJobHelper(PythonJobHelper):
    """Runs a compiled dbt Python model in the process's SparkSession."""

    def __init__(self, parsed_model: dict, credentials: Any) -> None:  # the base class only raises
        self.parsed_model = parsed_model
        self.credentials = credentials

    def submit(self, compiled_code: str) -> None:
        from pyspark.sql import SparkSession

        name = self.parsed_model.get("unique_id") or self.parsed_model.get("alias", "python model")
        # the session dbt-spark's session connection opened (one per process: getOrCreate)
        spark = SparkSession.builder.getOrCreate()
        namespace = {"__name__": "__dbt_python_model__", "spark": spark}
        try:
            exec(compile(compiled_code, f"<{name}>", "exec"), namespace)  # dbt's own compiled model
        except Exception as exc:
            raise DbtRuntimeError(f"{name} failed in the local SparkSession: {type(exc).__name__}: {exc}") from exc


def is_installed() -> bool:
    """True once :func:`install` ran in this process."""
    from dbt.adapters.spark.impl import SparkAdapter

    return getattr(SparkAdapter, _INSTALLED_FLAG, False)


def install() -> None:
    """Register the ``session`` submission method on dbt-spark's adapter (idempotent)."""
    from dbt.adapters.spark.connections import SparkConnectionMethod
    from dbt.adapters.spark.impl import SparkAdapter

    if is_installed():
        return
    helpers_of = SparkAdapter.python_submission_helpers.fget
    default_of = SparkAdapter.default_python_submission_method.fget

    def python_submission_helpers(self: Any) -> dict:
        return {**helpers_of(self), SUBMISSION_METHOD: SessionPythonJobHelper}

    def default_python_submission_method(self: Any) -> str:
        if self.config.credentials.method == SparkConnectionMethod.SESSION:
            return SUBMISSION_METHOD
        return default_of(self)

    SparkAdapter.python_submission_helpers = property(python_submission_helpers)
    SparkAdapter.default_python_submission_method = property(default_python_submission_method)
    setattr(SparkAdapter, _INSTALLED_FLAG, True)
