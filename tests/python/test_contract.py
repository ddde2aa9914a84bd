"""The raw contract is written twice (Python for writers, YAML for dbt): they must agree."""

from __future__ import annotations

import csv

import yaml

from segrec.contract import RAW_TABLES, REASON_CODES

from .conftest import PROJECT_ROOT


def test_sources_yaml_lists_the_contract_columns():
    sources = yaml.safe_load((PROJECT_ROOT / "models/staging/_staging__sources.yml").read_text())
    tables = {t["name"]: t for t in sources["sources"][0]["tables"]}
    assert set(tables) == set(RAW_TABLES)
    for name, spec in RAW_TABLES.items():
        columns = tables[name]["columns"]
        assert [c["name"] for c in columns] == list(spec.columns), name
        required = [c["name"] for c in columns if c.get("config", {}).get("meta", {}).get("required")]
        assert required == list(spec.required), name
        assert tables[name]["config"]["meta"]["required_table"] == spec.is_required_table, name


def test_reason_seed_matches_reason_codes_in_priority_order():
    with open(PROJECT_ROOT / "seeds/quarantine_reasons.csv") as f:
        rows = sorted(csv.DictReader(f), key=lambda r: int(r["priority"]))
    assert tuple(r["reason_code"] for r in rows) == REASON_CODES


def test_cleaning_rules_doc_lists_every_reason():
    doc = (PROJECT_ROOT / "docs/cleaning-rules.md").read_text()
    positions = [doc.index(f"`{code}`") for code in REASON_CODES]
    assert positions == sorted(positions)
