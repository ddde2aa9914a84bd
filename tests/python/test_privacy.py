"""Privacy on the committed sample: no mart holds a clear-text e-mail address or the names in the
raw customers' addresses; the sample's deletion requests leave no identifier of those customers
in any mart or export; and a delete request added to the raw data removes that customer from
every mart and every file `segrec export` writes on the next build (stale files included)."""

from __future__ import annotations

import hashlib
import shutil
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from segrec import cli
from segrec.dbt_plugin import pii_salt
from segrec.exports import find_emails, is_text_like
from segrec.rawio import write_raw_table
from segrec.warehouse import load_json, mart_tables, quote_ident, sql_literal, table_columns, warehouse_tables

from .dbt_harness import SAMPLE, DbtProject

pytestmark = pytest.mark.dbt

BUILD = ["build", "--exclude-resource-type", "test", "unit_test"]
# The first build is the run's shared build of the sample (conftest.sample_marts: the activation
# marts and all they need), what the chosen customer is found in, without the (table-materialized,
# history-free, slow) recommender; the build after the delete request builds every mart.
# Keeps the rows of earlier segmentation runs (see test_segmentation_history_forgets_deleted_customers).
SEGMENT_HISTORY = "customer_segments"


def salted_sha256(value: str, salt: str) -> str:
    """What macro hash_pii computes: SHA-256 hex of salt || lower(trim(value))."""
    return hashlib.sha256((salt + value.strip().lower()).encode()).hexdigest()


ID_TOKEN = "[a-z0-9]+"  # ids, keys and hex digests are runs of letters and digits
EMAIL_TOKEN = "[a-z0-9._%+-]+"  # an e-mail's local part (anna.martin142) is one such run


def find_tokens(
    con: duckdb.DuckDBPyConnection, relations: Mapping[str, str], needles: Iterable[str], token: str = ID_TOKEN
) -> dict[str, int]:
    """``{"relation.column": distinct needles found}`` over every text-like column: a needle is
    found when it is a whole token of a value (case-insensitive), so 'C0000002' is not found in
    'C00000021'. One pass per relation: its text columns unpivoted, split into tokens in SQL and
    joined to the needles by hash."""
    con.execute("create or replace temp table needles as select distinct lower(unnest(?)) as needle", [list(needles)])
    hits = {}
    for name, relation in relations.items():
        columns = [quote_ident(c) for c, dtype in table_columns(con, relation) if is_text_like(dtype)]
        if not columns:
            continue
        rows = con.execute(
            f"""
            with text_values as (
                unpivot (select {", ".join(f"lower({c}::varchar) as {c}" for c in columns)} from {relation})
                on {", ".join(columns)} into name column_name value text_value
            ),
            tokens as (
                select distinct column_name, unnest(regexp_extract_all(text_value, ?)) as token
                from (select distinct column_name, text_value from text_values)
            )
            select column_name, count(*) from tokens inner join needles on tokens.token = needles.needle
            group by column_name
            """,
            [token],
        ).fetchall()
        hits |= {f"{name}.{column}": n for column, n in rows}
    return hits


def mart_relations(con: duckdb.DuckDBPyConnection, manifest_path: Path) -> dict[str, str]:
    marts, _ = mart_tables(warehouse_tables(con), load_json(manifest_path))
    return {name: f"main.{quote_ident(name)}" for name in marts}


def export_relations(con: duckdb.DuckDBPyConnection, out_dir: Path) -> dict[str, str]:
    """Every Parquet and CSV file under ``out_dir`` (CSV read as text), and the tables of the
    published DuckDB copy, attached read-only as ``published``."""
    relations = {}
    for path in sorted(out_dir.rglob("*.parquet")):
        relations[path.relative_to(out_dir).as_posix()] = f"read_parquet({sql_literal(str(path))})"
    for path in sorted(out_dir.rglob("*.csv")):
        relations[path.relative_to(out_dir).as_posix()] = f"read_csv({sql_literal(str(path))}, all_varchar = true)"
    con.execute(f"attach {sql_literal(str(out_dir / 'segrec_published.duckdb'))} as published (read_only)")
    for name in warehouse_tables(con, "published"):
        relations[f"segrec_published.duckdb/{name}"] = f"published.main.{quote_ident(name)}"
    return relations


def without(hits: Mapping[str, int], fragment: str) -> dict[str, int]:
    return {where: n for where, n in hits.items() if fragment not in where}


def identifiers(project: DbtProject, customer_ids: list[str]) -> list[str]:
    """The tokens that identify these customers: ids, customer_key, their devices' anonymous
    ids, and the salted hashes of ids and e-mails (clear e-mails: see find_emails)."""
    ids = ", ".join(f"'{c}'" for c in customer_ids)
    devices = project.query(f"select anonymous_id from int_identity__device_owners where customer_id in ({ids})")
    customers = pd.read_parquet(project.raw_dir / "customers.parquet")
    emails = customers.loc[customers["customer_id"].isin(customer_ids), "email"].dropna().str.strip().str.lower()
    keys = [hashlib.md5(f"customer:{c}".encode()).hexdigest() for c in customer_ids]
    salt = pii_salt()
    hashes = [salted_sha256(value, salt) for value in [*customer_ids, *emails]]
    return [*customer_ids, *keys, *devices["anonymous_id"], *hashes]


def export(project: DbtProject, out_dir: Path) -> None:
    code = cli.main(["export", "--db", str(project.db_path), "--out", str(out_dir),
                     "--manifest", str(project.work_dir / "target" / "manifest.json"), "--allow-demo-salt"])
    assert code == 0


@dataclass
class Deletion:
    """Two builds and exports of the sample, with one delete request added in between."""

    project: DbtProject
    exports: Path
    customer_id: str
    identifiers: list[str]
    before: dict[str, dict[str, int]] = field(default_factory=dict)  # where they were found first
    stale_file: Path | None = None

    def hits(self) -> dict[str, dict[str, int]]:
        with duckdb.connect(str(self.project.db_path), read_only=True) as con:
            marts = find_tokens(con, mart_relations(con, self.project.work_dir / "target" / "manifest.json"),
                                self.identifiers)
            exports = find_tokens(con, export_relations(con, self.exports), self.identifiers)
        return {"marts": marts, "exports": exports}


@pytest.fixture(scope="module")
def deletion(sample_marts, tmp_path_factory) -> Deletion:
    work = tmp_path_factory.mktemp("privacy")
    raw = work / "raw"
    raw.mkdir()
    for path in SAMPLE.glob("*.parquet"):
        shutil.copy(path, raw / path.name)
    project = sample_marts.copy(work, raw_dir=raw)  # the first build, then builds on the copied raw folder

    # a customer present everywhere: marketed to, in an experiment, shown recommendations
    customer_id = project.query(
        """
        select min(customers.customer_id) as customer_id
        from marketing_audiences as audiences
        inner join dim_customers as customers using (customer_key)
        where audiences.customer_key in (select customer_key from int_experiment__assignments)
            and audiences.customer_key in (select customer_key from int_privacy__recommendation_impressions)
        """
    )["customer_id"].iloc[0]
    scenario = Deletion(project, work / "exports", customer_id, identifiers(project, [customer_id]))
    export(project, scenario.exports)
    scenario.before = scenario.hits()

    # an audience file left from an earlier export (an audience since retired), holding the customer
    audience = project.query(
        f"select min(audience) as audience from marketing_audiences where customer_key = '{scenario.identifiers[1]}'"
    )["audience"].iloc[0]
    scenario.stale_file = scenario.exports / "audiences" / "retired_offer.csv"
    shutil.copy(scenario.exports / "audiences" / f"{audience}.csv", scenario.stale_file)

    request = pd.DataFrame({"customer_id": [customer_id], "request_type": ["delete"],
                            "requested_at": ["2026-07-01T09:00:00"]})
    write_raw_table(request, "privacy_requests", raw, part="late_requests")
    project.run(*BUILD)
    export(project, scenario.exports)
    return scenario


def test_no_mart_holds_clear_text_emails_or_the_names_in_them(deletion):
    customers = pd.read_parquet(SAMPLE / "customers.parquet")
    emails = customers["email"].dropna().str.strip().str.lower()
    local_parts = emails.str.split("@").str[0]  # e.g. anna.martin142: the customer's name
    names = local_parts.str.replace(r"[0-9]+$", "", regex=True).str.split(".")  # [anna, martin]
    raw = {"customers": f"read_parquet({sql_literal(str(SAMPLE / 'customers.parquet'))})"}
    with duckdb.connect(str(deletion.project.db_path), read_only=True) as con:
        marts = mart_relations(con, deletion.project.work_dir / "target" / "manifest.json")
        assert {"dim_customers", "marketing_audiences", "experiment_results", "recommendation_feedback"} <= set(marts)
        assert find_emails(con, marts) == {}
        assert find_tokens(con, marts, local_parts, EMAIL_TOKEN) == {}
        assert find_tokens(con, marts, names.str.join(" "), ".+") == {}  # a whole value "anna martin"
        # the same scans do find them in the raw customers table
        assert set(find_emails(con, raw)) == set(find_tokens(con, raw, local_parts, EMAIL_TOKEN)) == {"customers.email"}


def test_sample_deletion_requests_leave_no_identifier_in_marts_or_exports(deletion):
    requests = pd.read_parquet(SAMPLE / "privacy_requests.parquet")
    deleted = sorted(requests.loc[requests["request_type"] == "delete", "customer_id"])
    needles = identifiers(deletion.project, deleted)
    raw = {"events": f"read_parquet({sql_literal(str(SAMPLE / 'events.parquet'))})"}
    with duckdb.connect(str(deletion.project.db_path), read_only=True) as con:
        assert find_tokens(con, mart_relations(con, deletion.project.work_dir / "target" / "manifest.json"),
                           needles) == {}
        assert find_tokens(con, export_relations(con, deletion.exports), needles) == {}
        assert {"events.customer_id", "events.anonymous_id"} <= set(find_tokens(con, raw, needles))


def test_a_delete_request_removes_the_customer_from_every_mart_on_the_next_build(deletion):
    found_before = {where.split(".")[0] for where in deletion.before["marts"]}
    assert {"dim_customers", "fct_events", "customer_features", "marketing_audiences"} <= found_before
    assert without(deletion.hits()["marts"], SEGMENT_HISTORY) == {}


def test_a_delete_request_removes_the_customer_from_every_export(deletion):
    found_before = set(deletion.before["exports"])
    assert any(where.startswith("audiences/") for where in found_before)
    assert any(where.startswith("marts/dim_customers.parquet") for where in found_before)
    assert not deletion.stale_file.exists()  # the export removed the audience file no longer made
    assert without(deletion.hits()["exports"], SEGMENT_HISTORY) == {}


def test_segmentation_history_forgets_deleted_customers(deletion):
    hits = deletion.hits()
    assert {where: n for part in hits.values() for where, n in part.items() if SEGMENT_HISTORY in where} == {}


def test_clear_text_emails_live_only_in_views_over_raw(deletion):
    # a materialized table (intermediate or mart) carries the salted hash, never the address
    with duckdb.connect(str(deletion.project.db_path), read_only=True) as con:
        tables = {name: quote_ident(name) for (name,) in con.sql(
            "select table_name from information_schema.tables where table_type = 'BASE TABLE'").fetchall()}
        assert "int_customers__unified" in tables
        assert find_emails(con, tables) == {}
