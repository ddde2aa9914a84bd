"""`segrec ingest` command and the helpers shared by the adapters."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from segrec.cli import main
from segrec.errors import SegrecError
from segrec.ingest import SOURCES, ingest
from segrec.ingest.common import (
    content_ids,
    expand_inputs,
    iso_text,
    modal_value,
    next_midnight,
    number_text,
)
from segrec.rawio import read_raw_table

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "ingest"


def test_registry_lists_the_sources():
    assert list(SOURCES) == ["online_retail", "cdnow", "diginetica", "rees46", "olist"]


def test_cli_writes_raw_tables_and_summary(tmp_path, capsys):
    out = tmp_path / "raw"
    assert main(["ingest", "rees46", str(FIXTURES / "rees46" / "events.csv"), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "segrec ingest rees46: 8 source rows read" in printed
    assert "(0 unaccounted)" in printed
    events = read_raw_table(out, "events")
    assert len(events) == 8 and all(events[c].dtype == "string" for c in events)  # raw = text
    assert len(read_raw_table(out, "products")) == 3
    summary = json.loads((out / "ingest_summary.json").read_text())
    assert summary["rows_written"] == {"events": 8, "products": 3}
    assert summary["unaccounted"] == 0


def test_cli_refuses_to_mix_loads_unless_overwrite(tmp_path, capsys):
    out = tmp_path / "raw"
    rees46 = str(FIXTURES / "rees46" / "events.csv")
    cdnow = str(FIXTURES / "cdnow" / "cdnow_master.txt")
    assert main(["ingest", "rees46", rees46, "--out", str(out)]) == 0
    assert main(["ingest", "cdnow", cdnow, "--out", str(out)]) == 2
    assert "already holds raw tables (events.parquet, products.parquet)" in capsys.readouterr().err
    assert main(["ingest", "cdnow", cdnow, "--out", str(out), "--overwrite"]) == 0
    assert sorted(p.name for p in out.glob("*.parquet")) == ["customers.parquet", "events.parquet"]


def test_cli_reports_bad_input_in_one_line(tmp_path, capsys):
    assert main(["ingest", "diginetica", str(tmp_path / "missing.csv"), "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("segrec ingest: error:") and "missing.csv: no such file or directory" in err
    with pytest.raises(SystemExit):  # argparse: unknown source
        main(["ingest", "retailrocket", str(tmp_path), "--out", str(tmp_path)])


def test_directory_with_one_dataset_in_two_formats_is_ambiguous(tmp_path):
    (tmp_path / "orders.csv").write_text("a\n1\n")
    (tmp_path / "orders.parquet").write_bytes(b"")
    (tmp_path / "README.md").write_text("not data")
    with pytest.raises(SegrecError, match="holds orders in several formats"):
        expand_inputs([tmp_path])
    (tmp_path / "orders.parquet").unlink()
    assert expand_inputs([tmp_path]) == [tmp_path / "orders.csv"]


def test_content_ids_number_repeats_and_match_across_parts():
    frame = pd.DataFrame({"a": ["x", "x", "y", "x"], "b": ["1", "1", None, "1"]}, dtype="string")
    part = pd.Series(["p", "p", "p", "q"])
    ids = content_ids(frame, ["a", "b"], "ns", within=part)
    assert ids[0] != ids[1]      # a repeat within a part is another row
    assert ids[3] == ids[0]      # the first copy in another part is the same row
    assert content_ids(frame, ["a", "b"], "other", within=part)[0] != ids[0]  # namespaced


def test_modal_value_breaks_ties_by_smallest_value():
    frame = pd.DataFrame({"k": ["a", "a", "a", "b", "b", "c"], "v": [2.0, 1.0, 2.0, 3.0, 1.0, None]})
    assert modal_value(frame, "k", "v").to_dict() == {"a": 2.0, "b": 1.0}


def test_time_and_number_text():
    seconds = pd.Series(pd.to_datetime(["2011-01-02 03:04:05", None]))
    millis = pd.Series(pd.to_datetime(["2011-01-02 03:04:05", "2011-01-02 03:04:05.250"], format="ISO8601"))
    assert iso_text(seconds).tolist() == ["2011-01-02T03:04:05", pd.NA]
    assert iso_text(millis).tolist() == ["2011-01-02T03:04:05.000", "2011-01-02T03:04:05.250"]
    assert next_midnight(millis).tolist() == [pd.Timestamp("2011-01-03")] * 2
    assert number_text(pd.Series([12.0, 2.55, -3.0, float("nan"), 0.1 + 0.2])).tolist() == [
        "12", "2.55", "-3", pd.NA, "0.30000000000000004",
    ]


@pytest.mark.parametrize("name", ["broken.parquet", "empty.csv", "broken.xlsx"])
def test_unreadable_files_are_clear_errors(tmp_path, name):
    path = tmp_path / name
    path.write_bytes(b"" if name == "empty.csv" else b"not really this format")
    if name.endswith(".xlsx"):
        pytest.importorskip("openpyxl", reason="xlsx input needs openpyxl")
    with pytest.raises(SegrecError, match=rf"{name}: cannot read"):
        ingest("online_retail", [path])
