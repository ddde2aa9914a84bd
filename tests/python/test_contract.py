"""The raw contract has one source of truth, models/staging/_staging__sources.yml: its Python
mirror (segrec.contract), its documentation (docs/raw-contract.md) and the seeds must agree."""

from __future__ import annotations

import csv
import re
from collections import defaultdict

import pytest
import yaml

from segrec.contract import EVENT_TYPES, RAW_TABLES, REASON_CODES

from .dbt_harness import PROJECT_ROOT

DOC = PROJECT_ROOT / "docs" / "raw-contract.md"
TABLE_HEADING = re.compile(r"^### `(\w+)` \((required|optional)\)$")
COLUMN_ROW = re.compile(r"^\| `(\w+)` \| (\w+) \| (yes|no) \|")
VALUE_ROW = re.compile(r"^\| `(\w+)` \| ((?:`\w+`(?:, )?)+) \|$")
REASON_ROW = re.compile(r"^\| (\d+) \| `(\w+)` \|")


def read_seed(name: str) -> list[dict[str, str]]:
    with open(PROJECT_ROOT / "seeds" / name, newline="") as f:
        return list(csv.DictReader(f))


def doc_section(heading: str) -> list[str]:
    """The lines of docs/raw-contract.md under ``heading`` up to the next heading of its level or above."""
    lines = DOC.read_text().splitlines()
    level = heading.split(" ")[0]
    start = lines.index(heading) + 1
    end = next((i for i in range(start, len(lines))
                if lines[i].startswith("#") and len(lines[i].split(" ")[0]) <= len(level)), len(lines))
    return lines[start:end]


def aliases_by_value(seed: str, column: str) -> dict[str, list[str]]:
    grouped = defaultdict(list)
    for row in read_seed(seed):
        grouped[row[column]].append(row["alias_key"])
    return dict(grouped)


def doc_aliases(heading: str) -> dict[str, list[str]]:
    return {m[1]: re.findall(r"`(\w+)`", m[2]) for line in doc_section(heading) if (m := VALUE_ROW.match(line))}


@pytest.fixture(scope="module")
def source_tables() -> dict[str, dict]:
    sources = yaml.safe_load((PROJECT_ROOT / "models/staging/_staging__sources.yml").read_text())
    return {t["name"]: t for t in sources["sources"][0]["tables"]}


def test_python_contract_mirrors_the_sources_yaml(source_tables):
    assert list(source_tables) == list(RAW_TABLES)
    for name, spec in RAW_TABLES.items():
        table = source_tables[name]
        assert table["config"]["meta"]["required_table"] == spec.is_required_table, name
        assert [c["name"] for c in table["columns"]] == list(spec.columns), name
        required = [c["name"] for c in table["columns"] if c.get("config", {}).get("meta", {}).get("required")]
        assert required == list(spec.required), name
        assert {c["name"]: c["data_type"] for c in table["columns"]} == spec.data_types, name
        assert all(c.get("description") for c in table["columns"]), f"{name}: a column without description"


def test_doc_lists_every_table_and_column_with_type_and_required_flag():
    documented: dict[str, tuple[bool, list[tuple[str, str, bool]]]] = {}
    table = None
    for line in doc_section("## Tables"):
        if heading := TABLE_HEADING.match(line):
            table = heading[1]
            documented[table] = (heading[2] == "required", [])
        elif (row := COLUMN_ROW.match(line)) and table is not None:
            documented[table][1].append((row[1], row[2], row[3] == "yes"))
    expected = {
        name: (spec.is_required_table, [(c.name, c.data_type, c.required) for c in spec.column_specs])
        for name, spec in RAW_TABLES.items()
    }
    assert documented == expected


def test_event_types_are_the_alias_seeds_targets_and_documented():
    seed = aliases_by_value("event_type_aliases.csv", "event_type")
    assert list(seed) == list(EVENT_TYPES)
    assert doc_aliases("### Event types (`events.event_type`)") == seed


def test_device_types_and_currencies_are_documented_as_in_their_seeds():
    assert doc_aliases("### Device types (`events.device_type`)") == aliases_by_value(
        "device_type_aliases.csv", "device_type")
    currencies = " ".join(doc_section("### Currencies (`events.currency`)"))
    assert all(f"`{row['currency']}`" in currencies for row in read_seed("currency_rates.csv"))


def test_reason_seed_matches_reason_codes_in_priority_order():
    rows = sorted(read_seed("quarantine_reasons.csv"), key=lambda r: int(r["priority"]))
    assert tuple(r["reason_code"] for r in rows) == REASON_CODES
    documented = [(int(m[1]), m[2]) for line in doc_section("## Bad rows") if (m := REASON_ROW.match(line))]
    assert documented == [(int(r["priority"]), r["reason_code"]) for r in rows]


def test_cleaning_rules_doc_lists_every_reason():
    doc = (PROJECT_ROOT / "docs/cleaning-rules.md").read_text()
    positions = [doc.index(f"`{code}`") for code in REASON_CODES]
    assert positions == sorted(positions)
