"""segrec.engine: a dbt Python model's refs read the same from a DuckDB relation, pandas or Arrow,
and its result goes back as the engine takes it (the Spark side: test_spark_cross_engine.py)."""

from __future__ import annotations

import duckdb
import pandas as pd
import pyarrow as pa
import pytest

from segrec.engine import query, select, to_arrow, to_output, to_output_batches, to_pandas
from segrec.errors import SegrecError
from segrec.schemas import REPEATED_TEXT, typed_table


@pytest.fixture
def con():
    connection = duckdb.connect()
    connection.sql("create table t as select * from (values ('a', 1, 'x'), ('b', 2, 'y')) v(k, n, s)")
    yield connection
    connection.close()


def test_refs_read_the_same_from_duckdb_pandas_and_arrow(con):
    relation = con.table("t")
    expected = pd.DataFrame({"k": ["a", "b"], "n": [1, 2], "s": ["x", "y"]})
    for ref in (relation, expected, pa.Table.from_pandas(expected)):
        assert to_arrow(ref).to_pydict() == {"k": ["a", "b"], "n": [1, 2], "s": ["x", "y"]}
        assert to_pandas(ref).to_dict("list") == expected.to_dict("list")
    # filters are the engine's own, selections are lazy and take SQL expressions
    assert to_arrow(select(relation.filter("n > 1"), ["k", "'latest' as cutoff"])).to_pylist() == [
        {"k": "b", "cutoff": "latest"}]
    assert query(con, "select count(*) as n from t").to_pylist() == [{"n": 2}]
    with pytest.raises(SegrecError, match="cannot read a int"):
        to_arrow(3)


def test_results_go_back_unchanged_on_duckdb(con):
    table = pa.table({"k": ["a"]})
    assert to_output(table, con) is table


def test_results_made_in_batches_reach_duckdb_through_a_file_removed_once_read(con, tmp_path):
    """to_output_batches spools the batches to Parquet in DuckDB's temp_directory and hands DuckDB
    a stream over it (as dbt-duckdb registers a model's result); the file goes once read."""
    schema = pa.schema([("k", pa.string()), ("kind", REPEATED_TEXT)])
    con.sql(f"set temp_directory = '{tmp_path / 'spill'}'")

    def batches():
        for i in range(3):
            yield typed_table(pd.DataFrame({"k": [f"a{i}", f"b{i}"], "kind": "latest" if i else "test"}), schema)
            # the model's own connection is free while the batches are made (they read refs)
            assert query(con, "select count(*) as n from t").column("n")[0].as_py() == 2

    result = to_output_batches(batches(), schema, con)
    assert len(list((tmp_path / "spill").glob("segrec-output-*.parquet"))) == 1
    con.register("result", result)
    con.sql("create table out as select * from result")
    assert con.sql("select kind, count(*) from out group by kind order by kind").fetchall() == [
        ("latest", 4), ("test", 2)]
    assert con.sql("select data_type from information_schema.columns where table_name = 'out' "
                   "and column_name = 'kind'").fetchall() == [("VARCHAR",)]
    assert not list((tmp_path / "spill").glob("*.parquet"))
    # no batch at all: an empty table of the schema
    assert to_output_batches(iter(()), schema, con).read_all().num_rows == 0


def test_spark_timestamps_are_read_as_naive_utc_like_duckdbs():
    """Spark hands Arrow timestamps in its session's zone; the models get DuckDB's naive UTC."""
    from datetime import datetime

    class SparkFrame:  # what engine reads of a Spark DataFrame
        sparkSession = None

        def toPandas(self):
            raise AssertionError("read through Arrow")

        def toArrow(self):
            moment = pa.array([datetime(2026, 1, 1, 12)], pa.timestamp("us", tz="UTC"))
            return pa.table({"at": moment.cast(pa.timestamp("us", tz="Europe/Paris")), "n": [1]})

    assert to_arrow(SparkFrame()).schema.field("at").type == pa.timestamp("us")
    assert to_pandas(SparkFrame())["at"].tolist() == [pd.Timestamp("2026-01-01 12:00")]


@pytest.fixture
def arrow_pool():
    """pyarrow's default pool, restored after the test (the plugin sets it process-wide)."""
    before = pa.default_memory_pool()
    yield
    pa.set_memory_pool(before)


def test_the_dbt_plugin_makes_the_c_allocator_arrows_pool_unless_the_user_named_one(arrow_pool, monkeypatch):
    from dbt.adapters.duckdb.plugins import BasePlugin

    from segrec.dbt_plugin import use_system_arrow_pool

    pa.set_memory_pool(pa.mimalloc_memory_pool())
    assert use_system_arrow_pool({"ARROW_DEFAULT_MEMORY_POOL": "mimalloc"}) == "mimalloc"
    assert pa.default_memory_pool().backend_name == "mimalloc"
    assert use_system_arrow_pool({}) == "system"
    # as dbt loads it from profiles.yml, in an environment that names no pool
    monkeypatch.delenv("ARROW_DEFAULT_MEMORY_POOL", raising=False)
    pa.set_memory_pool(pa.mimalloc_memory_pool())
    BasePlugin.create("segrec.dbt_plugin")
    assert pa.default_memory_pool().backend_name == "system"
