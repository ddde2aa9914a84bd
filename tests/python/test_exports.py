"""Exports: Parquet marts, the Tableau extract, the published copy, audience files, the
manifest, and the two privacy gates, on a tiny hand-made warehouse.

``tiny_warehouse`` builds that warehouse; the run log and report tests use it too.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from segrec import exports
from segrec.cli import main
from segrec.dbt_plugin import DEMO_SALT
from segrec.errors import SegrecError
from segrec.warehouse import output_tables

SALT = "a-secret-salt"


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def tiny_tables() -> dict[str, pd.DataFrame]:
    """Every table the exports, run log and report read, a handful of rows each.

    customer_segments holds two scoring runs (2 rows scored 2024-01-01, 4 rows scored
    2024-02-01); segmentation_runs two model runs; the latest of each is v2.
    """
    ts = pd.Timestamp
    customers = ["c1", "c2", "c3", "c4"]
    return {
        # 10 raw rows = 7 clean + 3 quarantined (2 duplicates, 1 bot)
        "stg_raw__events": pd.DataFrame({"event_id": [f"e{i}" for i in range(10)]}),
        "fct_events": pd.DataFrame(
            {
                "event_id": [f"e{i}" for i in range(7)],
                "customer_key": ["c1", "c1", "c2", "c3", "c3", "c4", "c4"],
                "event_time": [ts("2024-01-01 10:00") + pd.Timedelta(minutes=i) for i in range(7)],
                "event_type": ["product_view", "purchase", "purchase", "page_view", "purchase", "search",
                               "purchase"],
                "revenue": [0.0, 20.0, 35.5, 0.0, 12.25, 0.0, 8.0],
            }
        ),
        "quarantined_events": pd.DataFrame(
            {
                "event_id": ["e7", "e8", "e9"],
                "reason_code": ["duplicate_event", "duplicate_event", "bot_traffic"],
                "quarantined_at": [ts("2024-01-02")] * 3,
            }
        ),
        "dim_customers": pd.DataFrame(
            {"customer_key": customers, "is_anonymous": [False, False, False, True], "region": ["EU", "EU", "US", None]}
        ),
        "fct_sessions": pd.DataFrame(
            {"session_key": ["s1", "s2", "s3"], "customer_key": ["c1", "c2", "c3"], "converted": [True, True, False]}
        ),
        # r_score x f_score: (5,4) twice, (1,2), (3,3) -> 3 distinct r, 3 distinct f
        "customer_features": pd.DataFrame(
            {"customer_key": customers, "r_score": [5, 5, 1, 3], "f_score": [4, 4, 2, 3],
             "monetary": [20.0, 35.5, 12.25, 8.0]}
        ),
        "customer_segments": pd.DataFrame(
            {
                "customer_key": ["c1", "c2", "c1", "c2", "c3", "c4"],
                "segment_id": [0, 0, 0, 0, 1, 1],
                "segment_name": ["Champions", "Champions", "Champions", "Champions", "At Risk", "At Risk"],
                "pca_x": [0.0, 0.1, 1.0, 1.2, -1.0, -0.8],
                "pca_y": [0.0, 0.1, 0.5, 0.4, -0.3, -0.6],
                "model_version": ["v1", "v1", "v2", "v2", "v2", "v2"],
                "scored_at": [ts("2024-01-01")] * 2 + [ts("2024-02-01")] * 4,
            }
        ),
        "segment_profiles": pd.DataFrame(
            {
                "segment_id": [0, 1],
                "segment_name": ["Champions", "At Risk"],
                "n_customers": [2, 2],
                "share": [0.5, 0.5],
                "revenue_share": [0.73, 0.27],
                "description": ["Recent frequent buyers", "Lapsing <buyers> & browsers"],
                "model_version": ["v2", "v2"],
            }
        ),
        "segment_transitions": pd.DataFrame(
            {
                "from_segment_id": pd.array([0, 0, None], dtype="Int64"),
                "to_segment_id": pd.array([0, 1, 1], dtype="Int64"),
                "n_customers": [1, 1, 2],
                "model_version": ["v2", "v2", "v2"],
            }
        ),
        "segmentation_runs": pd.DataFrame(
            {
                "model_version": ["v1", "v2"],
                "algorithm": ["kmeans", "kmeans"],
                "k": [3, 2],
                "silhouette": [0.40, 0.45],
                "calinski_harabasz": [120.0, 150.0],
                "davies_bouldin": [0.9, 0.8],
                "trained_at": [ts("2024-01-01"), ts("2024-02-01")],
            }
        ),
        "segmentation_k_selection": pd.DataFrame(
            {
                "model_version": ["v1"] * 2 + ["v2"] * 4,
                "k": [2, 3, 2, 3, 4, 5],
                "silhouette": [0.30, 0.40, 0.45, 0.41, 0.38, 0.33],
                "calinski_harabasz": [100.0, 120.0, 150.0, 140.0, 130.0, 120.0],
                "davies_bouldin": [1.0, 0.9, 0.8, 0.85, 0.9, 1.0],
            }
        ),
        "recommendation_metrics": pd.DataFrame(
            {
                "model_version": ["r1"] * 6,
                "strategy": ["als", "als", "als", "popularity", "popularity", "popularity"],
                "segment_name": ["all", "Champions", "At Risk", "all", "Champions", "At Risk"],
                "k": [10] * 6,
                "metric": ["ndcg"] * 6,
                "value": [0.26, 0.30, 0.20, 0.08, 0.09, 0.07],
                "n_users": [4, 2, 2, 4, 2, 2],
                "evaluated_at": [ts("2024-02-01")] * 6,
            }
        ),
        "experiment_results": pd.DataFrame(
            {
                "experiment_id": ["rec_hybrid_vs_als"] * 2 + ["aa_test"] * 2,
                "metric": ["conversion_rate"] * 4,
                "variant": ["control", "treatment", "a", "b"],
                "n": [500, 510, 400, 400],
                "value": [0.10, 0.13, 0.11, 0.112],
                "lift": [None, 0.30, None, 0.018],
                "ci_low": [None, 0.05, None, -0.2],
                "ci_high": [None, 0.55, None, 0.25],
                "p_value": [None, 0.01, None, 0.9],
                "srm_ok": [True, True, True, True],
            }
        ),
        "marketing_audiences": pd.DataFrame(
            {
                "customer_key": ["c1", "c2", "c3"],
                "hashed_customer_id": [sha(SALT + "1"), sha(SALT + "2"), sha(SALT + "3")],
                "audience": ["vip_discount", "vip_discount", "Win-back coupon"],
                "segment_name": ["Champions", "Champions", "At Risk"],
                "promotion_id": ["P10", "P10", "P20"],
            }
        ),
    }


# The output tables of the tiny warehouse, as a dbt manifest names them: every table but the
# staging one and the k-selection table (a model outside marts/ that no exposure reads).
OUTPUT_TABLES: tuple[str, ...] = (
    "fct_events", "quarantined_events", "dim_customers", "fct_sessions", "customer_features",
    "customer_predictions", "customer_segments", "segment_profiles", "segment_transitions",
    "segmentation_runs", "customer_recommendations", "item_similarities", "recommendation_metrics",
    "experiment_results", "marketing_audiences",
)


def tiny_manifest(names: tuple[str, ...] = OUTPUT_TABLES) -> dict:
    """A dbt manifest placing ``names`` under ``models/marts/`` (what export and run log read)."""
    return {
        "nodes": {
            f"model.segrec.{name}": {
                "resource_type": "model", "name": name, "alias": name, "fqn": ["segrec", "marts", "x", name],
                "original_file_path": f"models/marts/x/{name}.sql",
            }
            for name in names
        }
    }


TINY_MANIFEST = tiny_manifest()


def write_warehouse(path: Path, tables: dict[str, pd.DataFrame]) -> Path:
    """A DuckDB file holding ``tables``, closed so readers can open it read-only."""
    with duckdb.connect(str(path)) as con:
        for name, frame in tables.items():
            con.register("frame", frame)
            con.execute(f'create table "{name}" as select * from frame')
            con.unregister("frame")
    return path


def tiny_warehouse(folder: Path, drop: tuple[str, ...] = (), **replace: pd.DataFrame) -> Path:
    """``folder/warehouse.duckdb`` (replaced if present) with :func:`tiny_tables` minus
    ``drop``, plus or replacing the frames given by name."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "warehouse.duckdb").unlink(missing_ok=True)
    tables = {name: frame for name, frame in (tiny_tables() | replace).items() if name not in drop}
    return write_warehouse(folder / "warehouse.duckdb", tables)


def test_exports_every_mart_with_exact_counts_and_checksums(tmp_path):
    out = tmp_path / "exports"
    doc = exports.export_warehouse(tiny_warehouse(tmp_path), out, TINY_MANIFEST, salt=SALT)
    tables = tiny_tables()
    marts = sorted(set(tables) & set(OUTPUT_TABLES))
    assert sorted(p.stem for p in (out / "marts").iterdir()) == marts
    for name in marts:
        entry = doc["files"][f"marts/{name}.parquet"]
        assert entry["rows"] == len(tables[name])
        assert entry["sha256"] == hashlib.sha256((out / "marts" / f"{name}.parquet").read_bytes()).hexdigest()
        assert [c["name"] for c in entry["columns"]] == list(tables[name].columns)
        assert len(pd.read_parquet(out / "marts" / f"{name}.parquet")) == len(tables[name])
    # staging tables and the k-selection table (not output tables of the manifest) are not exported
    assert "marts/stg_raw__events.parquet" not in doc["files"]
    assert doc["model_versions"] == {
        "customer_segments": ["v1", "v2"], "recommendation_metrics": ["r1"], "segment_profiles": ["v2"],
        "segment_transitions": ["v2"], "segmentation_runs": ["v1", "v2"],
    }
    assert doc["demo_salt"] is False
    assert json.loads((out / "manifest.json").read_text()) == doc
    # the same warehouse exported again gives byte-identical data files
    again = exports.export_warehouse(
        tiny_warehouse(tmp_path / "again"), tmp_path / "exports2", TINY_MANIFEST, salt=SALT
    )
    for name, entry in doc["files"].items():
        if name.startswith(("marts/", "audiences/")):
            assert again["files"][name]["sha256"] == entry["sha256"], name


def test_manifest_selects_marts_folder_models(tmp_path):
    manifest = {
        "nodes": {
            "model.segrec.segmentation_k_selection": {
                "resource_type": "model", "name": "segmentation_k_selection", "alias": "segmentation_k_selection",
                "fqn": ["segrec", "marts", "segments", "segmentation_k_selection"],
                "original_file_path": "models/marts/segments/segmentation_k_selection.sql",
            },
            "model.segrec.stg_raw__events": {
                "resource_type": "model", "name": "stg_raw__events", "alias": "stg_raw__events",
                "fqn": ["segrec", "staging", "stg_raw__events"], "original_file_path": "models/staging/x.sql",
            },
            "model.segrec.not_built": {
                "resource_type": "model", "name": "not_built", "alias": "not_built",
                "fqn": ["segrec", "marts", "core", "not_built"], "original_file_path": "models/marts/core/n.sql",
            },
        }
    }
    doc = exports.export_warehouse(tiny_warehouse(tmp_path), tmp_path / "out", manifest, salt=SALT)
    assert doc["files"]["marts/segmentation_k_selection.parquet"]["rows"] == 6
    assert "marts/stg_raw__events.parquet" not in doc["files"]
    assert any("not_built" in note for note in doc["notes"])


def test_output_tables_are_marts_and_exposure_inputs_and_need_a_manifest(tmp_path):
    manifest = tiny_manifest(("fct_events",))
    manifest["nodes"]["model.segrec.int_scores"] = {
        "resource_type": "model", "name": "int_scores", "alias": "segmentation_k_selection",
        "fqn": ["segrec", "intermediate", "int_scores"], "original_file_path": "models/intermediate/int_scores.py",
    }
    manifest["nodes"]["model.segrec.int_unused"] = {
        "resource_type": "model", "name": "int_unused", "fqn": ["segrec", "intermediate", "int_unused"],
        "original_file_path": "models/intermediate/int_unused.sql",
    }
    manifest["exposures"] = {
        "exposure.segrec.dashboard": {"depends_on": {"nodes": ["model.segrec.int_scores", "source.segrec.raw.x"]}},
    }
    assert output_tables(manifest) == {"fct_events", "segmentation_k_selection"}
    doc = exports.export_warehouse(tiny_warehouse(tmp_path), tmp_path / "out", manifest, salt=SALT)
    assert sorted(name for name in doc["files"] if name.startswith("marts/")) == [
        "marts/fct_events.parquet", "marts/segmentation_k_selection.parquet",
    ]
    with pytest.raises(SegrecError, match="run `dbt parse`"):
        exports.export_warehouse(tiny_warehouse(tmp_path), tmp_path / "none", None, salt=SALT)


def test_hyper_extract_reads_back_every_mart(tmp_path):
    out = tmp_path / "exports"
    doc = exports.export_warehouse(tiny_warehouse(tmp_path), out, TINY_MANIFEST, salt=SALT)
    counts = exports.hyper_row_counts(out / "tableau" / "segrec.hyper", tmp_path / "hyper_logs")
    expected = {name: len(frame) for name, frame in tiny_tables().items() if name in OUTPUT_TABLES}
    assert counts == expected == doc["files"]["tableau/segrec.hyper"]["tables"]
    assert not list(Path.cwd().glob("hyperd*.log"))  # Hyper logged into the scratch folder


def test_published_copy_is_a_closed_duckdb_with_the_marts(tmp_path):
    out = tmp_path / "exports"
    exports.export_warehouse(tiny_warehouse(tmp_path), out, TINY_MANIFEST, salt=SALT)
    with duckdb.connect(str(out / exports.PUBLISHED_NAME), read_only=True) as con:
        names = {row[0] for row in con.sql("select table_name from information_schema.tables").fetchall()}
        assert con.sql("select count(*) from fct_events").fetchall()[0][0] == 7
    assert names == set(tiny_tables()) & set(OUTPUT_TABLES)
    assert [p.name for p in out.iterdir() if p.name.startswith(".")] == []  # no temporary files left


def test_audience_files_are_split_and_hold_hashed_ids_only(tmp_path):
    out = tmp_path / "exports"
    doc = exports.export_warehouse(tiny_warehouse(tmp_path), out, TINY_MANIFEST, salt=SALT)
    assert sorted(p.name for p in (out / "audiences").iterdir()) == [
        "vip_discount.csv", "vip_discount.parquet", "win_back_coupon.csv", "win_back_coupon.parquet",
    ]
    expected_vip = (
        "hashed_customer_id,audience,segment_name,promotion_id\n"
        f"{sha(SALT + '1')},vip_discount,Champions,P10\n"
        f"{sha(SALT + '2')},vip_discount,Champions,P10\n"
    )
    assert (out / "audiences" / "vip_discount.csv").read_text() == expected_vip
    assert doc["files"]["audiences/vip_discount.csv"]["sha256"] == sha(expected_vip)
    assert doc["files"]["audiences/vip_discount.csv"]["rows"] == 2
    winback = pd.read_parquet(out / "audiences" / "win_back_coupon.parquet")
    assert winback.to_dict("list") == {
        "hashed_customer_id": [sha(SALT + "3")], "audience": ["Win-back coupon"],
        "segment_name": ["At Risk"], "promotion_id": ["P20"],
    }
    assert doc["files"]["audiences/win_back_coupon.parquet"]["audience"] == "Win-back coupon"


def test_stale_audience_and_mart_files_are_removed(tmp_path):
    out = tmp_path / "exports"
    exports.export_warehouse(tiny_warehouse(tmp_path), out, TINY_MANIFEST, salt=SALT)
    audiences = tiny_tables()["marketing_audiences"].iloc[:2]  # the win-back customer is gone
    doc = exports.export_warehouse(
        tiny_warehouse(tmp_path, drop=("experiment_results",), marketing_audiences=audiences), out, TINY_MANIFEST,
        salt=SALT,
    )
    assert sorted(p.name for p in (out / "audiences").iterdir()) == ["vip_discount.csv", "vip_discount.parquet"]
    assert not (out / "marts" / "experiment_results.parquet").exists()
    assert "removed stale audiences/win_back_coupon.csv" in doc["notes"]


@pytest.mark.parametrize("salt", [None, "", DEMO_SALT])
def test_salt_gate_refuses_unset_or_demo_salt(tmp_path, salt):
    with pytest.raises(SegrecError, match="SEGREC_HASH_SALT (is not set|is the public demo salt)"):
        exports.export_warehouse(tiny_warehouse(tmp_path), tmp_path / "exports", TINY_MANIFEST, salt=salt)
    assert not (tmp_path / "exports").exists()  # refused before writing anything
    exports.check_salt(salt, allow_demo_salt=True)  # the demo's explicit opt-in passes


def test_salt_gate_reads_the_build_flag_too(tmp_path):
    demo_hashed = tiny_tables()["marketing_audiences"].assign(hashed_with_demo_salt=[True, True, True])
    db = tiny_warehouse(tmp_path, marketing_audiences=demo_hashed)
    with pytest.raises(SegrecError, match="hashed_with_demo_salt: 3 rows"):
        # a secret now, but not at build time
        exports.export_warehouse(db, tmp_path / "exports", TINY_MANIFEST, salt=SALT)
    assert not (tmp_path / "exports" / "marts").exists()
    doc = exports.export_warehouse(db, tmp_path / "exports", TINY_MANIFEST, salt=SALT, allow_demo_salt=True)
    assert "hashed_with_demo_salt" not in [c["name"] for c in doc["files"]["audiences/vip_discount.csv"]["columns"]]


def test_demo_salt_export_is_marked_in_the_manifest(tmp_path):
    doc = exports.export_warehouse(tiny_warehouse(tmp_path), tmp_path / "exports", TINY_MANIFEST, salt=DEMO_SALT,
                                   allow_demo_salt=True)
    assert doc["demo_salt"] is True


def test_cli_exits_2_on_demo_salt_and_passes_with_the_flag(tmp_path, monkeypatch, capsys):
    db = tiny_warehouse(tmp_path)
    monkeypatch.setenv("SEGREC_HASH_SALT", DEMO_SALT)
    manifest = tmp_path / "manifest.json"
    manifest.write_text(json.dumps(TINY_MANIFEST))
    args = ["export", "--db", str(db), "--out", str(tmp_path / "exports"), "--manifest", str(manifest)]
    assert main(args) == 2
    assert "demo salt" in capsys.readouterr().err
    assert main([*args, "--allow-demo-salt"]) == 0
    assert "vip_discount.csv" in capsys.readouterr().out


def test_email_scanner_refuses_clear_text_addresses_without_printing_them(tmp_path):
    customers = tiny_tables()["dim_customers"].assign(note=["ok", "mail Jane.Doe+x@example.co.uk", None, "a@b"])
    db = tiny_warehouse(tmp_path, dim_customers=customers)
    with pytest.raises(SegrecError, match=r"dim_customers\.note \(1 rows\)") as error:
        exports.export_warehouse(db, tmp_path / "exports", TINY_MANIFEST, salt=SALT)
    assert "example" not in str(error.value)
    assert not (tmp_path / "exports" / "marts").exists()


def test_email_scanner_looks_inside_lists(tmp_path):
    with duckdb.connect() as con:
        con.execute("create table t as select ['x', 'bob@shop.example'] as tags, 1 as n, 'no at sign' as s")
        assert exports.find_emails(con, {"t": "t"}) == {"t.tags": 1}


def test_audiences_need_a_valid_hashed_id(tmp_path):
    no_hash = tiny_tables()["marketing_audiences"].drop(columns="hashed_customer_id")
    with pytest.raises(SegrecError, match="hashed_"):
        exports.export_warehouse(
            tiny_warehouse(tmp_path, marketing_audiences=no_hash), tmp_path / "a", TINY_MANIFEST, salt=SALT
        )
    not_hex = tiny_tables()["marketing_audiences"].assign(hashed_customer_id=["c1", "c2", "c3"])
    with pytest.raises(SegrecError, match="marketing_audiences.hashed_customer_id: 3 values"):
        exports.export_warehouse(
            tiny_warehouse(tmp_path, marketing_audiences=not_hex), tmp_path / "b", TINY_MANIFEST, salt=SALT
        )


def test_absent_tables_are_skipped_with_a_note(tmp_path):
    db = tiny_warehouse(tmp_path, drop=("marketing_audiences", "customer_segments", "experiment_results"))
    doc = exports.export_warehouse(db, tmp_path / "exports", TINY_MANIFEST, salt=SALT)
    assert "marketing_audiences absent: no audience files" in doc["notes"]
    assert not (tmp_path / "exports" / "audiences").exists()
    assert "customer_segments" not in doc["files"]["tableau/segrec.hyper"]["tables"]


def test_missing_or_locked_warehouse_is_a_clear_error(tmp_path):
    with pytest.raises(SegrecError, match="run `dbt build` first"):
        exports.export_warehouse(tmp_path / "nope.duckdb", tmp_path / "exports", TINY_MANIFEST, salt=SALT)


def test_hyper_types_are_cast_to_what_hyper_stores():
    assert exports.hyper_cast("BIGINT") is None
    assert exports.hyper_cast("TIMESTAMP WITH TIME ZONE") is None
    assert exports.hyper_cast("DECIMAL(18,3)") is None
    assert exports.hyper_cast("DECIMAL(38,2)") == "DOUBLE"
    assert exports.hyper_cast("HUGEINT") == "DOUBLE"
    assert exports.hyper_cast("TINYINT") == "SMALLINT"
    assert exports.hyper_cast("VARCHAR[]") == "VARCHAR"
    assert exports.hyper_cast("STRUCT(a INTEGER)") == "VARCHAR"


def test_nested_and_wide_types_reach_the_extract(tmp_path):
    with duckdb.connect() as con:
        odd = con.sql(
            "select ['a', 'b'] as tags, 1::hugeint as big, 2.5::decimal(38, 2) as amount, 1.5::float as f, "
            "3::utinyint as small, {'x': 1} as s"
        ).df()
    doc = exports.export_warehouse(
        tiny_warehouse(tmp_path, item_similarities=odd), tmp_path / "out", TINY_MANIFEST, salt=SALT
    )
    assert doc["files"]["tableau/segrec.hyper"]["tables"]["item_similarities"] == 1


def test_check_counts_fails_loudly_on_mismatch():
    exports.check_counts({"a": 1, "b": 0}, {"a": 1, "b": 0}, "x.hyper")
    with pytest.raises(SegrecError, match=r"x.hyper does not match the warehouse: a: 2 rows, expected 1; b: missing"):
        exports.check_counts({"a": 1, "b": 0}, {"a": 2}, "x.hyper")
    with pytest.raises(SegrecError, match="c: unexpected table"):
        exports.check_counts({"a": 1}, {"a": 1, "c": 3}, "x.hyper")
